import Crypto
import Store
import Testing

@Suite("SQLiteJournal encryption")
struct EncryptionTests {
    let key = Crypto.randomBytes(32)

    @Test func phoneNumbersAreNotOnDiskInClear() throws {
        let dir = TempDir()
        let plainPath = dir.file("plain.db")
        let sealedPath = dir.file("sealed.db")
        let entries = (0..<6).map { Fixtures.entry($0) }
        let plain = try SQLiteJournal(path: plainPath, encryptionKey: nil)
        try plain.append(entries)
        let sealed = try SQLiteJournal(path: sealedPath, encryptionKey: key)
        try sealed.append(entries)
        // The search works: without a key the number is there…
        #expect(Fixtures.contains(Fixtures.bytesOnDisk(plainPath), Fixtures.phone))
        // …and with one it is not, neither in the database nor in the WAL.
        let onDisk = Fixtures.bytesOnDisk(sealedPath)
        #expect(onDisk.count > 0)
        #expect(!Fixtures.contains(onDisk, Fixtures.phone))
        #expect(!Fixtures.contains(onDisk, "client:ann"))
        #expect(try sealed.loadAll() == entries)
    }

    @Test func reopeningWithTheRightKeyWorks() throws {
        let dir = TempDir()
        let path = dir.file("sealed.db")
        let entries = (0..<4).map { Fixtures.entry($0, session: "s\($0)") }
        try SQLiteJournal(path: path, encryptionKey: key).append(entries)
        #expect(try SQLiteJournal(path: path, encryptionKey: key).loadAll() == entries)
    }

    @Test func aWrongKeyIsRefusedNamingTheConfigKey() throws {
        let dir = TempDir()
        let path = dir.file("sealed.db")
        try SQLiteJournal(path: path, encryptionKey: key).append([Fixtures.entry(0)])
        var wrong = key
        wrong[31] ^= 1
        #expect {
            _ = try SQLiteJournal(path: path, encryptionKey: wrong)
        } throws: { error in
            (error as? StoreError)?.message.contains("store.encryptionKey") == true
        }
    }

    @Test func noKeyForAnEncryptedJournalIsRefused() throws {
        let dir = TempDir()
        let path = dir.file("sealed.db")
        try SQLiteJournal(path: path, encryptionKey: key).append([Fixtures.entry(0)])
        #expect {
            _ = try SQLiteJournal(path: path, encryptionKey: nil)
        } throws: { error in
            (error as? StoreError)?.message.contains("store.encryptionKey") == true
        }
    }

    @Test func aKeyForAPlainJournalIsRefused() throws {
        let dir = TempDir()
        let path = dir.file("plain.db")
        try SQLiteJournal(path: path, encryptionKey: nil).append([Fixtures.entry(0)])
        #expect {
            _ = try SQLiteJournal(path: path, encryptionKey: key)
        } throws: { error in
            (error as? StoreError)?.message.contains("store.encryptionKey") == true
        }
    }

    @Test func keysParseFromHexAndBase64() throws {
        let hex = Crypto.hex(key)
        #expect(try SQLiteJournal.parseKey(hex) == key)
        #expect(try SQLiteJournal.parseKey(hex.uppercased()) == key)
        #expect(try SQLiteJournal.parseKey(Crypto.base64Encode(key) + "\n") == key)
        #expect(try SQLiteJournal.parseKey(Crypto.base64URLEncode(key)) == key)
        for bad in ["", "abc", String(hex.dropLast(2)), Crypto.base64Encode(Array(key.prefix(16))), hex + "00"] {
            #expect {
                _ = try SQLiteJournal.parseKey(bad)
            } throws: { error in
                (error as? StoreError)?.message.contains("store.encryptionKey") == true
            }
        }
    }
}

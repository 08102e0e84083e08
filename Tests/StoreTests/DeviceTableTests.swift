import Crypto
import Foundation
import Store
import Testing

/// The device registry table (Devices.swift): round trip, replacement,
/// removal, tokens sealed at rest, and the writer's device operation.
@Suite("Device registry table")
struct DeviceTableTests {
    static func device(_ id: String, token: String, at: Int64 = 1) -> Device {
        Device(sub: "alice", deviceId: id, platform: "android", pushToken: token, appVersion: "1.0", locale: "en",
               createdAt: at, updatedAt: at)
    }

    @Test func devicesAreReplacedRemovedAndReadBackAfterReopening() throws {
        let dir = TempDir()
        let path = dir.file("journal.db")
        let journal = try SQLiteJournal(path: path, encryptionKey: nil)
        try journal.writeDevices(DeviceWrite(upserts: [Self.device("a", token: "t1"), Self.device("b", token: "t2")]))
        try journal.writeDevices(DeviceWrite(upserts: [Self.device("a", token: "t3", at: 2)],
                                             deletes: [DeviceKey(sub: "alice", deviceId: "b")]))
        journal.close()
        let reopened = try SQLiteJournal(path: path, encryptionKey: nil)
        #expect(try reopened.loadDevices() == [Self.device("a", token: "t3", at: 2)])
    }

    @Test func tokensAreSealedWithTheKeyAndBoundToTheirDevice() throws {
        let dir = TempDir()
        let key = Crypto.randomBytes(32)
        let plainPath = dir.file("plain.db")
        let sealedPath = dir.file("sealed.db")
        let token = "fcm-token-that-must-not-be-on-disk"
        try SQLiteJournal(path: plainPath, encryptionKey: nil).writeDevices(DeviceWrite(upserts: [Self.device("a", token: token)]))
        let sealed = try SQLiteJournal(path: sealedPath, encryptionKey: key)
        try sealed.writeDevices(DeviceWrite(upserts: [Self.device("a", token: token)]))
        #expect(Fixtures.contains(Fixtures.bytesOnDisk(plainPath), token), "the search finds a plain token")
        #expect(!Fixtures.contains(Fixtures.bytesOnDisk(sealedPath), token))
        #expect(try sealed.loadDevices().first?.pushToken == token)
    }

    @Test func theWriterCompletesDeviceWritesAndRefusesThemAfterClose() throws {
        let dir = TempDir()
        let journal = try SQLiteJournal(path: dir.file("journal.db"), encryptionKey: nil)
        let writer = JournalWriter(store: journal, wake: {})
        writer.devices(DeviceWrite(upserts: [Self.device("a", token: "t")]), token: 7)
        var done: [(token: Int, error: StoreError?)] = []
        for _ in 0..<500 where done.isEmpty {
            done = writer.takeDeviceCompletions()
            if done.isEmpty { usleep(2000) }
        }
        #expect(done.count == 1 && done.first?.token == 7 && done.first?.error == nil)
        writer.close()
        writer.devices(DeviceWrite(upserts: [Self.device("b", token: "t")]), token: 8)
        let refused = writer.takeDeviceCompletions()
        #expect(refused.count == 1 && refused.first?.token == 8 && refused.first?.error != nil)
        #expect(try journal.loadDevices().map(\.deviceId) == ["a"])
    }
}

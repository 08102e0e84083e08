import Foundation
import Store
import Testing

/// Polls `takeCompleted()` the way the reactor does after each wake, until `count` arrived.
private func collect(_ writer: JournalWriter, count: Int, timeout: Double = 20) -> [JournalCompletion] {
    var done: [JournalCompletion] = []
    let deadline = Date().addingTimeInterval(timeout)
    while done.count < count && Date() < deadline {
        done += writer.takeCompleted()
        if done.count < count { usleep(500) }
    }
    return done
}

/// A store whose first append blocks until the test opens the gate: makes batching deterministic.
private final class GatedStore: JournalStore, @unchecked Sendable {
    private let condition = NSCondition()
    private var open = false
    private var entered = false
    private var batches: [[JournalEntry]] = []

    func append(_ entries: [JournalEntry]) throws {
        condition.lock()
        defer { condition.unlock() }
        entered = true
        condition.broadcast()
        while !open { condition.wait() }
        batches.append(entries)
    }

    func loadAll() throws -> [JournalEntry] { condition.withLock { batches.flatMap { $0 } } }
    func drop(sessions: [String]) throws {}
    func snapshot(_ snapshot: SessionSnapshot) throws {}
    func loadSnapshots() throws -> [SessionSnapshot] { [] }
    var commitCount: Int { condition.withLock { batches.count } }
    var batchSizes: [Int] { condition.withLock { batches.map(\.count) } }

    func waitUntilAppendStarted() {
        condition.lock()
        while !entered { condition.wait() }
        condition.unlock()
    }

    func openGate() {
        condition.withLock {
            open = true
            condition.broadcast()
        }
    }
}

private struct DiskFull: Error {}

/// A store that always fails, as a full or broken disk would.
private final class FailingStore: JournalStore {
    var commitCount: Int { 0 }
    func append(_ entries: [JournalEntry]) throws { throw DiskFull() }
    func loadAll() throws -> [JournalEntry] { [] }
    func drop(sessions: [String]) throws { throw StoreError(message: "drop failed") }
    func snapshot(_ snapshot: SessionSnapshot) throws { throw StoreError(message: "snapshot failed") }
    func loadSnapshots() throws -> [SessionSnapshot] { [] }
}

@Suite("JournalWriter")
struct JournalWriterTests {
    @Test func manyQuickSubmissionsShareFewCommitsAndCompleteInOrder() throws {
        let dir = TempDir()
        let path = dir.file("journal.db")
        let journal = try SQLiteJournal(path: path, encryptionKey: nil)
        let wakes = Counter()
        let writer = JournalWriter(store: journal, wake: { wakes.increment() })
        let n = 200
        let entries = (0..<n).map { Fixtures.entry($0, session: "s\($0 % 10)") }
        for (index, entry) in entries.enumerated() {
            writer.submit(entry, token: 1000 + index)
        }
        let done = collect(writer, count: n)
        writer.close()
        #expect(done.map(\.token) == Array(1000..<1000 + n))
        #expect(done.map(\.entry) == entries)
        #expect(done.allSatisfy { $0.error == nil })
        #expect(wakes.value >= 1)
        // One fsync served many inputs.
        #expect(journal.commitCount < n)
        #expect(journal.commitCount >= 1)
        #expect(wakes.value == journal.commitCount)
        journal.close()
        #expect(try SQLiteJournal(path: path, encryptionKey: nil).loadAll() == entries)
    }

    /// Each submit finds the writer asleep: every one must wake it (the
    /// wake-up is claimed per sleep and signalled after unlocking).
    @Test func aLoneInputIsCommittedEachTimeTheWriterHasGoneBackToSleep() throws {
        let store = MemoryJournal()
        let writer = JournalWriter(store: store, wake: {})
        for i in 0..<50 {
            writer.submit(Fixtures.entry(i), token: i)
            let done = collect(writer, count: 1, timeout: 5)
            #expect(done.map(\.token) == [i])
            if done.isEmpty { break }
            usleep(200)  // let the writer go back to waiting
        }
        writer.close()
        #expect(store.commitCount == 50)
    }

    @Test func inputsArrivingDuringACommitFormTheNextBatch() throws {
        let store = GatedStore()
        let writer = JournalWriter(store: store, wake: {})
        writer.submit(Fixtures.entry(0), token: 0)
        store.waitUntilAppendStarted()
        for i in 1..<100 { writer.submit(Fixtures.entry(i), token: i) }
        store.openGate()
        let done = collect(writer, count: 100)
        writer.close()
        #expect(done.map(\.token) == Array(0..<100))
        #expect(store.batchSizes == [1, 99])
    }

    @Test func aFailedBatchCompletesEveryEntryWithTheError() throws {
        let wakes = Counter()
        let writer = JournalWriter(store: FailingStore(), wake: { wakes.increment() })
        for i in 0..<10 { writer.submit(Fixtures.entry(i), token: i) }
        let done = collect(writer, count: 10)
        writer.close()
        #expect(done.map(\.token) == Array(0..<10))
        #expect(done.allSatisfy { $0.error != nil })
        #expect(wakes.value >= 1)
    }

    @Test func anInvalidEntryIsRefusedAloneWithoutFailingItsBatch() throws {
        let dir = TempDir()
        let journal = try SQLiteJournal(path: dir.file("journal.db"), encryptionKey: nil)
        let writer = JournalWriter(store: journal, wake: {})
        writer.submit(Fixtures.entry(0), token: 0)
        writer.submit(JournalEntry(sessionId: String(repeating: "x", count: 129), epoch: "e", input: Fixtures.input(1)), token: 1)
        writer.submit(JournalEntry(sessionId: "s1", epoch: "", input: Fixtures.input(2)), token: 2)
        writer.submit(Fixtures.entry(3), token: 3)
        let done = collect(writer, count: 4)
        writer.close()
        #expect(Set(done.map(\.token)) == [0, 1, 2, 3])
        #expect(done.filter { $0.error != nil }.map(\.token).sorted() == [1, 2])
        #expect(try journal.loadAll() == [Fixtures.entry(0), Fixtures.entry(3)])
    }

    @Test func dropErrorsAreReported() throws {
        let writer = JournalWriter(store: FailingStore(), wake: {})
        writer.drop(sessions: ["s1"])
        writer.close()
        #expect(writer.takeMaintenanceErrors().map(\.message) == ["drop failed"])
    }

    @Test func closeFlushesEverythingQueued() throws {
        let store = MemoryJournal()
        let writer = JournalWriter(store: store, wake: {})
        let entries = (0..<50).map { Fixtures.entry($0) }
        for (index, entry) in entries.enumerated() { writer.submit(entry, token: index) }
        writer.close()
        let done = writer.takeCompleted()
        #expect(done.map(\.token) == Array(0..<50))
        #expect(try store.loadAll() == entries)
        // After close, submissions are refused at once rather than lost.
        writer.submit(Fixtures.entry(99), token: 99)
        let late = writer.takeCompleted()
        #expect(late.map(\.token) == [99])
        #expect(late.first?.error != nil)
        #expect(store.count == 50)
    }

    @Test func dropsRunInOrderWithAppends() throws {
        let store = MemoryJournal()
        let writer = JournalWriter(store: store, wake: {})
        writer.submit(Fixtures.entry(0, session: "a"), token: 0)
        writer.submit(Fixtures.entry(1, session: "b"), token: 1)
        writer.drop(sessions: ["a"])
        writer.submit(Fixtures.entry(2, session: "a", epoch: "ep2"), token: 2)
        writer.close()
        #expect(try store.loadAll() == [Fixtures.entry(1, session: "b"), Fixtures.entry(2, session: "a", epoch: "ep2")])
        #expect(writer.takeCompleted().count == 3)
    }
}

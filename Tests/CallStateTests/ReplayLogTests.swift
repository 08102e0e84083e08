import Testing
@testable import CallState

@Suite("ReplayLog")
struct ReplayLogTests {
    @Test("since(v) returns the frames after v in order, [] at the newest version")
    func returnsMissedFrames() {
        var log = ReplayLog<String>(capacity: 4)
        for v in 1...3 { log.append(version: Int64(v), element: "f\(v)") }
        #expect(log.since(0) == ["f1", "f2", "f3"])
        #expect(log.since(1) == ["f2", "f3"])
        #expect(log.since(3) == [])
    }

    @Test("A version older than the retained frames is a gap (nil); so is one newer than the newest")
    func gapAndFuture() {
        var log = ReplayLog<String>(capacity: 3)
        for v in 1...5 { log.append(version: Int64(v), element: "f\(v)") }
        #expect(log.count == 3)
        #expect(log.floor == 2)
        #expect(log.since(1) == nil) // f2 was dropped
        #expect(log.since(2) == ["f3", "f4", "f5"])
        #expect(log.since(4) == ["f5"])
        #expect(log.since(6) == nil)
    }

    @Test("Versions may skip (conflated frames): completeness follows the last dropped version")
    func sparseVersions() {
        var log = ReplayLog<String>(capacity: 2, startVersion: 10)
        #expect(log.since(10) == [])
        #expect(log.since(9) == nil)
        log.append(version: 12, element: "a")
        log.append(version: 15, element: "b")
        #expect(log.since(10) == ["a", "b"])
        #expect(log.since(13) == ["b"])
        log.append(version: 16, element: "c")
        #expect(log.since(11) == nil)
        #expect(log.since(12) == ["b", "c"])
    }
}

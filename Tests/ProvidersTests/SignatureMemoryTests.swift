import Testing
@testable import Providers

/// The bounded memory of `v1` signatures (PROTOCOL.md §6 v1.1).
@Suite struct SignatureMemoryTests {
    func binding(_ byte: UInt8, _ target: String, t: Int64 = 1_000) -> SignatureBinding {
        SignatureBinding(unboundMAC: [byte], target: target, timestamp: t, toleranceSeconds: 300)
    }

    @Test func aSignatureIsBoundToItsFirstTarget() {
        let memory = SignatureMemory(capacity: 10)
        #expect(memory.admit(binding(1, "/webhooks/generic/a"), nowSeconds: 1_000) == .fresh)
        #expect(memory.admit(binding(1, "/webhooks/generic/a"), nowSeconds: 1_001) == .retry)
        #expect(memory.admit(binding(1, "/webhooks/generic/b"), nowSeconds: 1_002) == .otherTarget)
        var bound = binding(2, "/x")
        bound.unboundMAC = nil
        #expect(memory.admit(bound, nowSeconds: 1_000) == .fresh)
        #expect(memory.count == 1, "a path-bound (v2) signature is not remembered")
    }

    @Test func aFullMemoryFailsClosedUntilEntriesExpire() {
        let memory = SignatureMemory(capacity: 2)
        #expect(memory.admit(binding(1, "/a", t: 1_000), nowSeconds: 1_000) == .fresh)
        #expect(memory.admit(binding(2, "/a", t: 1_100), nowSeconds: 1_000) == .fresh)
        #expect(memory.admit(binding(3, "/a", t: 1_000), nowSeconds: 1_000) == .full(retryAfter: 301))
        // once the first one can no longer verify, its room is reused
        #expect(memory.admit(binding(3, "/a", t: 1_290), nowSeconds: 1_301) == .fresh)
        #expect(memory.count == 2)
        #expect(memory.admit(binding(2, "/b", t: 1_100), nowSeconds: 1_302) == .otherTarget)
    }
}

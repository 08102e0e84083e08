import Testing
@testable import CallState

@Suite("Client event vocabulary (§1.1)")
struct ClientEventTests {
    @Test("Every client event of the §1.1 table maps to its callState", arguments: [
        ("initiated", CallStateValue.initiated), ("connecting", .connecting), ("ringing", .ringing),
        ("connected", .connected), ("accept", .connected), ("open", .connected),
        ("reconnecting", .reconnecting), ("reconnected", .connected),
        ("hold", .onHold), ("unhold", .connected),
        ("disconnected", .ended), ("ended", .ended), ("closed", .ended),
        ("declined", .declined), ("reject", .declined), ("cancel", .canceled), ("error", .failed),
    ])
    func table(event: String, state: CallStateValue) {
        #expect(ClientEvent.callState(for: event) == state)
    }

    @Test("Every callState raw value maps to itself")
    func rawValues() {
        for state in CallStateValue.allCases {
            #expect(ClientEvent.callState(for: state.rawValue) == state)
        }
        #expect(ClientEvent.callState(for: "no_answer") == .noAnswer)
        #expect(ClientEvent.callState(for: "on_hold") == .onHold)
    }

    @Test("Unknown events map to nil")
    func unknown() {
        #expect(ClientEvent.callState(for: "dance") == nil)
        #expect(ClientEvent.callState(for: "") == nil)
        #expect(ClientEvent.callState(for: "Connected") == nil)
    }
}

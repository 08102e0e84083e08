/// The TwiML answer to Twilio's voice URL (PROTOCOL §6 `/api/twilio/voice`).
///
/// `Webhooks.handle(.twilioVoice, …)` verifies and parses the request but
/// cannot answer it: the answer depends on the session document (number,
/// caller id, identity, recording). The hub resolves the session, then
/// replaces the placeholder reply with `twiml(…)`.
public enum TwilioVoice {
    /// Builds the TwiML reply (`text/xml`).
    /// - Parameters:
    ///   - direction: the session's direction. `inbound` dials a client;
    ///     `outbound…` dials a number; nil decides by which of `phoneNumber`
    ///     and `identity` is known.
    ///   - phoneNumber: the number an outbound call dials.
    ///   - callerId: the caller id of an outbound `<Dial>`, if any.
    ///   - identity: the Voice SDK client an inbound call rings.
    ///   - record: adds `record="record-from-answer-dual"` to the `<Dial>`.
    /// - Returns: outbound `<Dial callerId timeout="30">NUMBER</Dial>`,
    ///   inbound `<Dial timeout="20"><Client>IDENTITY</Client></Dial>`, or
    ///   `<Hangup/>` when there is no one to dial. All text XML-escaped.
    public static func twiml(direction: String?, phoneNumber: String?, callerId: String?,
                             identity: String?, record: Bool) -> WebhookReply {
        let inbound: Bool
        if direction == "inbound" { inbound = true }
        else if direction?.hasPrefix("outbound") == true { inbound = false }
        else { inbound = (phoneNumber ?? "").isEmpty }
        let recordAttribute = record ? #" record="record-from-answer-dual""# : ""
        var xml = #"<?xml version="1.0" encoding="UTF-8"?><Response>"#
        if inbound, let identity, !identity.isEmpty {
            xml += #"<Dial timeout="20"\#(recordAttribute)><Client>\#(escape(identity))</Client></Dial>"#
        } else if !inbound, let phoneNumber, !phoneNumber.isEmpty {
            let callerAttribute = callerId.map { #" callerId="\#(escape($0))""# } ?? ""
            xml += #"<Dial\#(callerAttribute) timeout="30"\#(recordAttribute)>\#(escape(phoneNumber))</Dial>"#
        } else {
            xml += "<Hangup/>"
        }
        xml += "</Response>"
        return WebhookReply(status: 200, contentType: "text/xml", body: Array(xml.utf8))
    }

    /// What `handle(.twilioVoice, …)` returns until the hub substitutes
    /// `twiml(…)`: an empty `<Response/>`, which makes Twilio hang up, so a
    /// hub that forgot to substitute fails visibly rather than silently.
    public static let placeholder = WebhookReply(
        status: 200, contentType: "text/xml",
        body: Array(#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#.utf8))

    /// Escapes the five XML special characters (text and attribute safe).
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

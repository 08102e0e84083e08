import CallState

/// Asterisk REST Interface (ARI) events forwarded to `/webhooks/asterisk`,
/// signed like generic webhooks: `X-Switchboard-Signature: t=<s>,v2=<hex
/// HMAC-SHA256 of "t.<path?query>.body">` or `v1=<hex HMAC-SHA256 of
/// "t.body">` (bound by the hub to its first target) under
/// `providers.generic.secret`, 5 minutes.
///
/// - `ChannelCreated` → `initiated`.
/// - `ChannelStateChange` by `channel.state`: `Ring`, `Ringing` → `ringing`;
///   `Up` → `connected`; `Dialing`, `Dialing Offhook` → `initiated`;
///   `Busy` → `busy`; `Down`, `Rsrvd`, `OffHook`, `Pre-ring`, `Unknown` → no state.
/// - `ChannelDestroyed` → by Q.850 `cause`: 17 → `busy`; 18, 19 → `no_answer`;
///   21 → `declined`; 1, 3, 27, 28, 34, 38, 41, 42 → `failed`; else `ended`.
/// - `ChannelHold` → `on_hold`; `ChannelUnhold` → `connected`.
/// - `DeviceStateChanged` → `deviceStatus` by `device_state.state`:
///   `NOT_INUSE` → ready; `INUSE`, `BUSY`, `RINGING`, `RINGINUSE`, `ONHOLD`
///   → busy; `UNAVAILABLE`, `INVALID` → offline; `UNKNOWN` → no change.
///   No channel: it needs `?session=`, else the hub has nothing to match.
/// - every other type: ignored, no event.
///
/// ts is `timestamp`; eventId `type:channel.id:timestamp`; `providerCallId`
/// the channel id; `from` the caller number, `to` the connected number (or
/// the dialled extension); `sipCallId` from channel variable `SIPCALLID`.
public enum Asterisk {
    static let toleranceSeconds: Int64 = 5 * 60

    static let channelStates: [String: CallStateValue] = [
        "Ring": .ringing, "Ringing": .ringing, "Up": .connected,
        "Dialing": .initiated, "Dialing Offhook": .initiated, "Busy": .busy,
    ]

    static let deviceStates: [String: String] = [
        "NOT_INUSE": "ready", "INUSE": "busy", "BUSY": "busy", "RINGING": "busy",
        "RINGINUSE": "busy", "ONHOLD": "busy", "UNAVAILABLE": "offline", "INVALID": "offline",
    ]

    static func destroyedState(cause: Int64?) -> CallStateValue {
        switch cause {
        case 17?: return .busy
        case 18?, 19?: return .noAnswer
        case 21?: return .declined
        case 1?, 3?, 27?, 28?, 34?, 38?, 41?, 42?: return .failed
        default: return .ended
        }
    }

    static func handle(_ request: WebhookRequest, secret: String, now: Int64) throws(WebhookError) -> WebhookResult {
        try request.requireJSONContentType()
        let binding = try SignatureHeader.verifyBound(request, secret: secret, now: now, toleranceSeconds: toleranceSeconds)
        var result = try parse(request, now: now)
        result.binding = binding
        return result
    }

    /// The body of a verified request → its events (400 / 422 on bad input).
    static func parse(_ request: WebhookRequest, now: Int64) throws(WebhookError) -> WebhookResult {
        let body = try JSONValue.parseWebhookBody(request.body)
        let type = try body.requiredString("type")
        let timestampText = try body.string("timestamp")
        var ts = now
        if let timestampText {
            guard let ms = Timestamps.iso8601(timestampText) else { throw .unprocessable("timestamp is not an ISO 8601 time") }
            ts = ms
        }

        if type == "DeviceStateChanged" {
            guard let device = try body.object("device_state") else { throw .badRequest("device_state is required") }
            let name = try device.requiredString("name")
            guard let status = deviceStates[try device.requiredString("state")] else {
                return WebhookResult(events: [], reply: .ok)
            }
            var builder = UpdateBuilder(ts: ts, source: "asterisk",
                                        eventId: "\(type):\(name):\(timestampText ?? "")")
            builder.set(.deviceStatus, string: status)
            let event = ProviderEvent(input: builder.input(kind: "asterisk.\(type)", receivedAt: now))
            return WebhookResult(events: [event], reply: .ok)
        }

        let state: CallStateValue?
        switch type {
        case "ChannelCreated": state = .initiated
        case "ChannelStateChange":
            guard let channelState = try body.object("channel")?.string("state") else {
                throw .badRequest("channel.state is required")
            }
            guard let mapped = channelStates[channelState] else { return WebhookResult(events: [], reply: .ok) }
            state = mapped
        case "ChannelDestroyed": state = destroyedState(cause: try body.int("cause"))
        case "ChannelHold": state = .onHold
        case "ChannelUnhold": state = .connected
        default: return WebhookResult(events: [], reply: .ok)
        }
        guard let channel = try body.object("channel") else { throw .badRequest("channel is required") }
        let channelId = try channel.requiredString("id")
        var builder = UpdateBuilder(ts: ts, source: "asterisk",
                                    eventId: "\(type):\(channelId):\(timestampText ?? "")")
        builder.set(.callState, state: state)
        builder.set(.provider, string: "asterisk")
        builder.set(.providerCallId, string: channelId)
        builder.set(.from, string: try channel.object("caller")?.string("number"))
        let connected = try channel.object("connected")?.string("number")
        builder.set(.to, string: (connected ?? "").isEmpty ? try channel.object("dialplan")?.string("exten") : connected)
        if let variables = try channel.object("channelvars") {
            builder.set(.sipCallId, string: try variables.string("SIPCALLID"))
        }
        let event = ProviderEvent(providerCallIds: [channelId],
                                  input: builder.input(kind: "asterisk.\(type)", receivedAt: now))
        return WebhookResult(events: [event], reply: .ok)
    }
}

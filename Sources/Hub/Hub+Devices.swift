import CallState
import Store

/// The device registry API (PROTOCOL.md §10):
/// `PUT|DELETE /api/users/{sub}/devices/{deviceId}`, `GET /api/users/{sub}/devices`.
/// A token whose `sub` is `{sub}` (any role) or an admin token; tokens are
/// shown whole only to admin, else by their last 6 characters.
extension APIRouter {
    func devices(_ sub: String, _ req: HTTPRequest, _ now: Int64) -> Routed {
        guard Hub.validSub(sub) else { return .response(Hub.invalidSub) }
        return only("GET", req) {
            guarded(req, now) { Hub.deviceRefusal($0, sub) } then: { caller in
                .json(200, ["devices": .array(hub.push.devices(of: sub).map {
                    Hub.deviceJSON($0, fullTokens: caller.role.isAdmin, withTokens: true)
                })])
            }
        }
    }

    func device(_ sub: String, _ deviceId: String, _ req: HTTPRequest, exchangeId: Int, _ now: Int64) -> Routed {
        guard Hub.validSub(sub) else { return .response(Hub.invalidSub) }
        guard SessionID.isValid(deviceId) else {
            return .response(.error(400, "invalid_device_id", "device id must be 1-128 of [A-Za-z0-9._:-]"))
        }
        switch req.method {
        case "PUT":
            return deferred(exchangeId, guarded(req, now) { Hub.deviceRefusal($0, sub) } then: { caller in
                rateLimited(caller, now) ?? writable(req) { (body: JSONValue) throws(InputError) in
                    let existing = hub.push.devices(of: sub).first { $0.deviceId == deviceId }
                    let device = try Hub.parseDevice(body, sub: sub, deviceId: deviceId, existing: existing, now: now)
                    let full = caller.role.isAdmin
                    hub.storeDevices(DeviceWrite(upserts: [device])) { result in
                        guard case .success = result else { return hub.deliverResponse(exchangeId, Hub.storeUnavailable) }
                        hub.deliverResponse(exchangeId, .json(200, ["device": Hub.deviceJSON(device, fullTokens: full, withTokens: true)]))
                    }
                    return HTTPResponse.accepted
                }
            })
        case "DELETE":
            return deferred(exchangeId, guarded(req, now) { Hub.deviceRefusal($0, sub) } then: { caller in
                if let limited = rateLimited(caller, now) { return limited }
                guard !hub.draining else { return Hub.drainingResponse }
                guard hub.push.devices(of: sub).contains(where: { $0.deviceId == deviceId }) else {
                    return .error(404, "not_found", "no device \(deviceId) for \(sub)")
                }
                hub.storeDevices(DeviceWrite(deletes: [DeviceKey(sub: sub, deviceId: deviceId)])) { result in
                    guard case .success = result else { return hub.deliverResponse(exchangeId, Hub.storeUnavailable) }
                    hub.deliverResponse(exchangeId, HTTPResponse(status: 204))
                }
                return HTTPResponse.accepted
            })
        default:
            return .response(notAllowed(req, "PUT, DELETE"))
        }
    }
}

extension Hub {
    static let devicePlatforms: Set<String> = ["ios", "android", "web"]
    static let invalidSub = HTTPResponse.error(400, "invalid_sub", "user id must be 1-256 characters without control characters")

    static func validSub(_ sub: String) -> Bool {
        !sub.isEmpty && sub.utf8.count <= 256 && !sub.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    static func deviceRefusal(_ caller: ClientIdentity, _ sub: String) -> String? {
        caller.role.isAdmin || caller.sub == sub ? nil : "devices of \(sub) need a token of that sub, or admin"
    }

    /// `{platform, voipPushToken?, pushToken?, expoPushToken?, appVersion?, locale?}`:
    /// a `PUT` replaces the registration whole (a token left out is gone).
    static func parseDevice(_ body: JSONValue, sub: String, deviceId: String, existing: Device?,
                            now: Int64) throws(InputError) -> Device {
        guard let platform = body["platform"]?.stringValue else { throw .invalid("platform is required: ios, android or web") }
        guard devicePlatforms.contains(platform) else { throw .invalid("platform must be ios, android or web") }
        func optional(_ key: String, max: Int) throws(InputError) -> String? {
            guard let value = body[key], value != .null else { return nil }
            guard let text = value.stringValue else { throw .invalid("\(key) must be a string") }
            guard !text.isEmpty, text.utf8.count <= max else { throw .invalid("\(key) must be 1-\(max) bytes") }
            guard !text.unicodeScalars.contains(where: { $0.value < 0x20 }) else { throw .invalid("\(key) has control characters") }
            return text
        }
        let device = Device(sub: sub, deviceId: deviceId, platform: platform,
                            voipPushToken: try optional("voipPushToken", max: 4096), pushToken: try optional("pushToken", max: 4096),
                            expoPushToken: try optional("expoPushToken", max: 4096),
                            appVersion: try optional("appVersion", max: 64), locale: try optional("locale", max: 64),
                            createdAt: existing?.createdAt ?? now, updatedAt: now)
        if let voip = device.voipPushToken, !voip.utf8.allSatisfy({ UInt8(ascii: "0")...UInt8(ascii: "9") ~= $0
            || UInt8(ascii: "a")...UInt8(ascii: "f") ~= $0 || UInt8(ascii: "A")...UInt8(ascii: "F") ~= $0 }) {
            // It becomes a path segment of the APNs request.
            throw .invalid("voipPushToken must be the hex APNs device token")
        }
        return device
    }

    /// A device as the API shows it. `withTokens: false` (the `push.needed`
    /// event) says only which services it has.
    static func deviceJSON(_ d: Device, fullTokens: Bool, withTokens: Bool) -> JSONValue {
        func token(_ t: String?) -> JSONValue {
            guard let t else { return .null }
            return .string(fullTokens ? t : String(t.suffix(6)))
        }
        func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        var object: [String: JSONValue] = [
            "sub": .string(d.sub), "deviceId": .string(d.deviceId), "platform": .string(d.platform),
            "appVersion": text(d.appVersion), "locale": text(d.locale),
            "createdAt": .int(d.createdAt), "updatedAt": .int(d.updatedAt),
        ]
        if withTokens {
            object["voipPushToken"] = token(d.voipPushToken)
            object["pushToken"] = token(d.pushToken)
            object["expoPushToken"] = token(d.expoPushToken)
        } else {
            object["services"] = .array(zip(pushServices, [d.voipPushToken, d.pushToken, d.expoPushToken])
                .compactMap { $0.1 == nil ? nil : .string($0.0) })
        }
        return .object(object)
    }

    /// Stores a registry change, then applies it and calls `respond` (after
    /// the commit with a journal; at once without one).
    func storeDevices(_ write: DeviceWrite, respond: @escaping (Swift.Result<Void, StoreError>) -> Void) {
        guard let journal else {
            push.apply(write)
            respond(.success(()))
            return
        }
        push.nextWriteToken += 1
        push.pendingWrites[push.nextWriteToken] = (write, respond)
        journal.devices(write, token: push.nextWriteToken)
    }
}


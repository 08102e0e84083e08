import Foundation
import Hub
import HubTestSupport
import Testing

/// PROTOCOL.md §10 with the real hub and real local servers standing in for
/// APNs (HTTP/2 over TLS), FCM (OAuth token endpoint + HTTP v1 send) and
/// Expo: `Tests/fixtures/push/standins.py`, which verifies the JWTs with the
/// public halves of keys generated here by the openssl CLI.
@Suite(.serialized) struct PushTests {
    /// Keys, the TLS certificate and the running stand-ins.
    final class StandIns {
        let dir: URL
        let process = Process()
        let apnsPort: Int
        let httpPort: Int
        let output = LogBuffer()
        let pipe = Pipe()
        static let keyId = "KEYID12345"
        static let teamId = "TEAM123456"
        static let topic = "com.example.switchboard.voip"
        static let project = "switchboard-test"
        static let expoToken = "expo-access-token-test"

        init() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-push-\(UUID().uuidString)")
            self.dir = dir
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            func at(_ name: String) -> String { dir.appendingPathComponent(name).path }
            for command in [
                ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", at("apns.p8")],
                ["pkey", "-in", at("apns.p8"), "-pubout", "-out", at("apns.pub")],
                ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", at("fcm.key")],
                ["pkey", "-in", at("fcm.key"), "-pubout", "-out", at("fcm.pub")],
                ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", at("tls.key"),
                 "-out", at("tls.crt"), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            ] {
                let result = try HubProcess.runToExit(URL(fileURLWithPath: "/usr/bin/openssl"), arguments: command)
                guard result.status == 0 else { throw Failed(log: "openssl \(command): \(result.output)") }
            }
            apnsPort = try freePort()
            httpPort = try freePort()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            let script = HubProcess.repoRoot.appendingPathComponent("Tests/fixtures/push/standins.py").path
            process.arguments = [script, String(apnsPort), String(httpPort), at("tls.crt"), at("tls.key"),
                                 at("apns.pub"), Self.keyId, Self.teamId, Self.topic, at("fcm.pub"), Self.project,
                                 Self.expoToken]
            output.capture(process, through: pipe)
            try process.run()
            let deadline = Date(timeIntervalSinceNow: 10)
            while !output.text.contains("READY"), Date() < deadline, process.isRunning { usleep(20_000) }
            guard output.text.contains("READY") else {
                process.terminate()
                throw Failed(log: "stand-ins did not start (python3-h2, python3-jwt installed?): \(output.text)")
            }
        }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            pipe.fileHandleForReading.readabilityHandler = nil
            try? FileManager.default.removeItem(at: dir)
        }

        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        /// The hub's `push` section: every service pointed here, keys by `@file`.
        var pushConfig: [String: Any] {
            let pem = (try? String(contentsOfFile: path("fcm.key"), encoding: .utf8)) ?? ""
            let account: [String: Any] = [
                "type": "service_account", "project_id": Self.project, "private_key_id": "fcm-key-1",
                "private_key": pem, "client_email": "hub@\(Self.project).iam.gserviceaccount.com",
                "token_uri": "http://127.0.0.1:\(httpPort)/token",
            ]
            let accountFile = dir.appendingPathComponent("service-account.json")
            try? JSONSerialization.data(withJSONObject: account).write(to: accountFile)
            return [
                "apns": ["keyId": Self.keyId, "teamId": Self.teamId, "privateKey": "@" + path("apns.p8"),
                         "topic": Self.topic, "url": "https://127.0.0.1:\(apnsPort)", "caFile": path("tls.crt")],
                "fcm": ["serviceAccount": "@" + accountFile.path, "url": "http://127.0.0.1:\(httpPort)"],
                "expo": ["url": "http://127.0.0.1:\(httpPort)/--/api/v2/push/send", "accessToken": Self.expoToken],
            ]
        }

        func log() throws -> [[String: Any]] {
            let response = try HTTPClient(port: httpPort).get("/log")
            return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]]) ?? []
        }

        /// Requests for `service` (apns, fcm, fcm-token, expo) whose body names `sessionId`.
        func requests(_ service: String, session: String? = nil) throws -> [[String: Any]] {
            try log().filter { entry in
                guard entry["service"] as? String == service else { return false }
                guard let session else { return true }
                return PushTests.data(of: entry)?["sessionId"] as? String == session
            }
        }
    }

    struct Failed: Error, CustomStringConvertible {
        let log: String
        var description: String { log }
    }

    /// The payload data of a logged push request, whichever service.
    static func data(of entry: [String: Any]) -> [String: Any]? {
        switch entry["service"] as? String {
        case "apns": return entry["body"] as? [String: Any]
        case "fcm": return (entry["body"] as? [String: Any])?["data"] as? [String: Any]
        case "expo": return ((entry["body"] as? [[String: Any]])?.first)?["data"] as? [String: Any]
        default: return nil
        }
    }

    static func hub(_ standIns: StandIns, ringTimeoutSec: Int = 30, extra: [String: Any] = [:]) throws -> HubProcess {
        var push = standIns.pushConfig
        push["ringTimeoutSec"] = ringTimeoutSec
        return try HubProcess(config: HubProcess.merging(extra, into: ["push": push]))
    }

    static func register(_ hub: HubProcess, _ sub: String, _ deviceId: String, _ body: String,
                         token: String? = nil) throws -> HTTPClient.Response {
        let client = HTTPClient(port: hub.port, token: token ?? HubProcess.token(role: .client, sub: sub))
        return try client.request("PUT", "/api/users/\(sub)/devices/\(deviceId)", headers: ["Content-Type": "application/json"],
                                  body: Array(body.utf8))
    }

    /// A backend event: the session rings for `callee`.
    static func ring(_ hub: HubProcess, _ session: String, callee: String, state: String = "ringing") throws {
        let response = try hub.http.postJSON("/api/calls/\(session)/events", """
            {"id":"ring-\(session)","state":{"callState":"\(state)","calleeSub":"\(callee)","callId":"call-\(session)",\
            "callUUID":"5C1E7A4B-0000-4000-8000-\(String(repeating: "0", count: 12))","from":"+15550100"}}
            """)
        #expect(response.status == 200, "\(response.text)")
    }

    static func wait(timeout: TimeInterval = 15, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    /// A JWT's payload (the hub checks the signature when the token is used).
    static func claims(_ token: String) throws -> [String: Any] {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { throw Failed(log: "not a JWT: \(token)") }
        var text = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw Failed(log: "payload") }
        return object
    }

    static let apnsToken = String(repeating: "ab12", count: 16)

    @Test func aRingingCalleeWithoutASubscriberGetsOneVerifiedPushPerDeviceToken() throws {
        let standIns = try StandIns()
        let hub = try Self.hub(standIns)
        #expect(try Self.register(hub, "alice", "iphone", #"{"platform":"ios","voipPushToken":"\#(Self.apnsToken)","appVersion":"2.1"}"#).status == 200)
        #expect(try Self.register(hub, "alice", "pixel", #"{"platform":"android","pushToken":"fcm-token-pixel"}"#).status == 200)
        #expect(try Self.register(hub, "alice", "expo-app", #"{"platform":"ios","expoPushToken":"ExponentPushToken[abc]"}"#).status == 200)
        #expect(try Self.register(hub, "bob", "bobphone", #"{"platform":"android","pushToken":"fcm-token-bob"}"#).status == 200)
        try Self.ring(hub, "push-one", callee: "alice")
        #expect(try Self.wait {
            try ["apns", "fcm", "expo"].allSatisfy { try standIns.requests($0, session: "push-one").count == 1 }
        }, "one push through each service: \((try? standIns.log()) ?? [])")
        // A later change while still ringing pushes nothing more.
        let more = try hub.http.postJSON("/api/calls/push-one/events", #"{"id":"meta","metadata":{"agent":"x"},"state":{"callState":"ringing"}}"#)
        #expect(more.status == 200)
        usleep(500_000)
        let log = try standIns.log()
        for service in ["apns", "fcm", "expo"] {
            let sent = log.filter { $0["service"] as? String == service && Self.data(of: $0)?["sessionId"] as? String == "push-one" }
            #expect(sent.count == 1, "\(service): exactly one push")
            guard let entry = sent.first else { continue }
            #expect(entry["verified"] as? Bool == true, "\(service): \(entry["problems"] ?? "")")
            let data = try #require(Self.data(of: entry))
            #expect(data["type"] as? String == "incoming_call")
            #expect(data["callId"] as? String == "call-push-one")
            #expect(data["from"] as? String == "+15550100")
            #expect((data["callUUID"] as? String)?.hasPrefix("5C1E7A4B") == true)
            // The token in the push is a client token for this session and callee.
            let token = try #require(data["token"] as? String)
            let claims = try Self.claims(token)
            let holder = HTTPClient(port: hub.port, token: token)
            #expect(try holder.get("/api/calls/push-one").status == 200, "the hub accepts the pushed token")
            #expect(try holder.get("/api/calls/another-call").status == 403, "for this session only")
            #expect(claims["sub"] as? String == "alice")
            #expect(claims["sid"] as? String == "push-one")
            #expect(claims["role"] as? String == "client")
            let ttl = (claims["exp"] as? Int ?? 0) - Int(Date().timeIntervalSince1970)
            #expect(ttl > 60 && ttl <= 120, "push.tokenTtlSec default 120")
        }
        let apns = try #require(log.first { $0["service"] as? String == "apns" })
        #expect(apns["path"] as? String == "/3/device/\(Self.apnsToken)")
        #expect(log.contains { $0["service"] as? String == "fcm-token" && $0["verified"] as? Bool == true },
                "the OAuth assertion verified")
        #expect(!log.contains { ($0["device"] as? String)?.contains("bob") == true }, "bob's phone is not rung")
        // Every attempt is in the timeline and the metrics.
        var pushes: [[String: Any]] = []
        #expect(try Self.wait {
            let timeline = try hub.http.get("/api/calls/push-one/timeline").json["entries"] as? [[String: Any]] ?? []
            pushes = timeline.compactMap { $0["push"] as? [String: Any] }
            return pushes.count == 3
        }, "an entry per attempt")
        #expect(Set(pushes.compactMap { $0["deviceId"] as? String }) == ["iphone", "pixel", "expo-app"])
        #expect(pushes.allSatisfy { $0["outcome"] as? String == "sent" }, "\(pushes)")
        #expect(Set(pushes.compactMap { $0["platform"] as? String }) == ["apns", "fcm", "expo"])
        for service in ["apns", "fcm", "expo"] {
            #expect(try hub.metric(#"switchboard_push_total{platform="\#(service)",outcome="sent"}"#) == 1)
        }
        #expect(hub.log.contains("push attempt"), "attempts are logged")
        for secret in [Self.apnsToken, "fcm-token-pixel", "ExponentPushToken[abc]"] {
            #expect(!hub.log.contains(secret), "no device token in the log")
        }
    }

    @Test func aDeviceWithSeveralTokensIsRungOnceThroughTheBestConfiguredService() throws {
        let standIns = try StandIns()
        let hub = try Self.hub(standIns)
        let all = #"{"platform":"ios","voipPushToken":"\#(Self.apnsToken)","pushToken":"fcm-token-olga","expoPushToken":"ExponentPushToken[olga]"}"#
        #expect(try Self.register(hub, "olga", "iphone", all).status == 200)
        try Self.ring(hub, "several-tokens", callee: "olga")
        #expect(try Self.wait { try standIns.requests("apns", session: "several-tokens").count == 1 })
        // Without APNs credentials the same phone is rung through FCM instead.
        var push = standIns.pushConfig
        push["apns"] = nil
        let noAPNs = try HubProcess(config: ["push": push])
        #expect(try Self.register(noAPNs, "olga", "iphone", all).status == 200)
        try Self.ring(noAPNs, "several-tokens-fcm", callee: "olga")
        #expect(try Self.wait { try standIns.requests("fcm", session: "several-tokens-fcm").count == 1 })
        usleep(300_000)
        #expect(try standIns.requests("fcm", session: "several-tokens").isEmpty && standIns.requests("expo", session: "several-tokens").isEmpty,
                "one push for one phone")
        #expect(try standIns.requests("apns", session: "several-tokens-fcm").isEmpty && standIns.requests("expo", session: "several-tokens-fcm").isEmpty)
    }

    @Test func aCalleeWhoseAppIsSubscribedIsNotPushed() throws {
        let standIns = try StandIns()
        let hub = try Self.hub(standIns)
        #expect(try Self.register(hub, "carol", "iphone", #"{"platform":"ios","voipPushToken":"\#(Self.apnsToken)"}"#).status == 200)
        let ws = try hub.connect("/ws/calls/watched", token: HubProcess.token(role: .client, sub: "carol", sid: "watched"))
        _ = ws
        try Self.ring(hub, "watched", callee: "carol")
        // The same callee, not watching another call, is pushed: the control.
        try Self.ring(hub, "unwatched", callee: "carol")
        #expect(try Self.wait { try standIns.requests("apns", session: "unwatched").count == 1 })
        usleep(300_000)
        #expect(try standIns.requests("apns", session: "watched").isEmpty, "no push while the callee's app watches the call")
    }

    @Test func aCallStillRingingAfterTheRingTimeoutBecomesNoAnswer() throws {
        let standIns = try StandIns()
        let hub = try Self.hub(standIns, ringTimeoutSec: 1)
        #expect(try Self.register(hub, "dave", "pixel", #"{"platform":"android","pushToken":"fcm-token-dave"}"#).status == 200)
        try Self.ring(hub, "timeout-rings", callee: "dave", state: "queued")
        try Self.ring(hub, "timeout-answered", callee: "dave")
        let answered = try hub.http.postJSON("/api/calls/timeout-answered/events", #"{"id":"answer","state":{"callState":"connected"}}"#)
        #expect(answered.status == 200)
        #expect(try Self.wait(timeout: 5) {
            try hub.http.get("/api/calls/timeout-rings").json["callState"] as? String == "no_answer"
        }, "no_answer after push.ringTimeoutSec")
        let timeline = try hub.http.get("/api/calls/timeout-rings/timeline").json["entries"] as? [[String: Any]] ?? []
        let timeout = try #require(timeline.last { $0["source"] as? String == "hub" && $0["push"] == nil })
        #expect(timeout["sourceKind"] as? String == "backend")
        usleep(300_000)
        #expect(try hub.http.get("/api/calls/timeout-answered").json["callState"] as? String == "connected",
                "an answered call is left alone")
    }

    @Test func theCalleesAppEndsThePushPhaseBySubscribingOrReportingReady() throws {
        let standIns = try StandIns()
        let hub = try Self.hub(standIns, ringTimeoutSec: 3)
        #expect(try Self.register(hub, "jude", "pixel", #"{"platform":"android","pushToken":"fcm-token-jude"}"#).status == 200)
        for session in ["ends-ready", "ends-subscribed", "ends-control"] { try Self.ring(hub, session, callee: "jude") }
        #expect(try Self.wait { try standIns.requests("fcm").count == 3 }, "each call pushed once")
        // The woken app reports ready on one call and subscribes to another.
        let ready = HTTPClient(port: hub.port, token: HubProcess.token(role: .client, sub: "jude", sid: "ends-ready"))
        #expect(try ready.postJSON("/api/calls/ends-ready/sync", #"{"event":"ringing","data":{"deviceStatus":"ready"}}"#).status == 200)
        let ws = try hub.connect("/ws/calls/ends-subscribed", token: HubProcess.token(role: .client, sub: "jude", sid: "ends-subscribed"))
        _ = ws
        #expect(try Self.wait(timeout: 10) {
            try hub.http.get("/api/calls/ends-control").json["callState"] as? String == "no_answer"
        }, "the control call times out")
        usleep(500_000)
        for session in ["ends-ready", "ends-subscribed"] {
            #expect(try hub.http.get("/api/calls/\(session)").json["callState"] as? String == "ringing",
                    "\(session): the app rings by itself, the hub does not time it out")
        }
    }

    @Test func aClientReportNamesTheCallee() throws {
        let hub = try HubProcess()
        let ws = try hub.connect("/ws/calls/reported-callee")
        _ = try ws.nextJSON()
        try ws.send(#"{"type":"report","id":"r1","ts":\#(Int(Date().timeIntervalSince1970 * 1000)),"state":{"calleeSub":"kim"}}"#)
        var ack = try ws.nextJSON()
        while ack["type"] as? String != "ack" && ack["type"] as? String != "error" { ack = try ws.nextJSON() }
        #expect(ack["type"] as? String == "ack" && (ack["applied"] as? [String])?.contains("calleeSub") == true, "\(ack)")
        #expect(try hub.http.get("/api/calls/reported-callee").json["calleeSub"] as? String == "kim")
    }

    @Test func unregisteredTokensDeleteTheirDevices() throws {
        let standIns = try StandIns()
        let hub = try Self.hub(standIns)
        let dead = String(repeating: "dead", count: 16)
        #expect(try Self.register(hub, "erin", "old-iphone", #"{"platform":"ios","voipPushToken":"\#(dead)"}"#).status == 200)
        #expect(try Self.register(hub, "erin", "old-pixel", #"{"platform":"android","pushToken":"fcm-dead"}"#).status == 200)
        #expect(try Self.register(hub, "erin", "old-expo", #"{"platform":"android","expoPushToken":"ExponentPushToken[dead]"}"#).status == 200)
        #expect(try Self.register(hub, "erin", "live-pixel", #"{"platform":"android","pushToken":"fcm-live"}"#).status == 200)
        try Self.ring(hub, "unregistered", callee: "erin")
        #expect(try Self.wait {
            let ids = (try hub.http.get("/api/users/erin/devices").json["devices"] as? [[String: Any]] ?? []).compactMap { $0["deviceId"] as? String }
            return ids == ["live-pixel"]
        }, "the three dead devices are gone, the live one stays")
        var timeline: [[String: Any]] = []
        #expect(try Self.wait {
            timeline = try hub.http.get("/api/calls/unregistered/timeline").json["entries"] as? [[String: Any]] ?? []
            return timeline.filter { $0["push"] != nil }.count == 4
        }, "an entry per attempt")
        let outcomes = Dictionary(timeline.compactMap { $0["push"] as? [String: Any] }.map {
            ($0["deviceId"] as? String ?? "", $0["outcome"] as? String ?? "")
        }, uniquingKeysWith: { a, _ in a })
        #expect(outcomes == ["old-iphone": "unregistered", "old-pixel": "unregistered", "old-expo": "unregistered",
                             "live-pixel": "sent"])
        #expect(try hub.metric(#"switchboard_push_total{platform="apns",outcome="unregistered"}"#) == 1)
    }

    @Test func theDeviceRegistryAnswersOnlyItsUserOrAnAdminAndMasksTokens() throws {
        let hub = try HubProcess()
        let token = "fcm-registration-token-0123456789"
        let put = try Self.register(hub, "frank", "pixel", #"{"platform":"android","pushToken":"\#(token)","locale":"de-DE"}"#)
        #expect(put.status == 200, "\(put.text)")
        let device = try #require(put.json["device"] as? [String: Any])
        #expect(device["deviceId"] as? String == "pixel" && device["platform"] as? String == "android")
        #expect(device["pushToken"] as? String != token && device["pushToken"] as? String == "456789",
                "the owner sees only the last 6 characters")
        let mine = HTTPClient(port: hub.port, token: HubProcess.token(role: .viewer, sub: "frank"))
        let listed = try mine.get("/api/users/frank/devices").json["devices"] as? [[String: Any]] ?? []
        #expect(listed.count == 1 && (listed.first?["pushToken"] as? String)?.contains(token) == false)
        let admin = try hub.http.get("/api/users/frank/devices").json["devices"] as? [[String: Any]] ?? []
        #expect(admin.first?["pushToken"] as? String == token, "admin sees the whole token")
        let other = HTTPClient(port: hub.port, token: HubProcess.token(role: .client, sub: "mallory"))
        #expect(try other.get("/api/users/frank/devices").status == 403)
        #expect(try Self.register(hub, "frank", "evil", #"{"platform":"ios"}"#, token: HubProcess.token(role: .client, sub: "mallory")).status == 403)
        #expect(try other.request("DELETE", "/api/users/frank/devices/pixel").status == 403)
        #expect(try hub.anonymous.get("/api/users/frank/devices").status == 401)
        #expect(try Self.register(hub, "frank", "pixel", #"{"platform":"blackberry"}"#).status == 422)
        #expect(try Self.register(hub, "frank", "pixel", #"{"platform":"ios","voipPushToken":5}"#).status == 422)
        #expect(try Self.register(hub, "frank", "pixel", #"{"platform":"#).status == 400)
        #expect(try Self.register(hub, "frank", "bad%20id", #"{"platform":"ios"}"#).status == 400)
        #expect(try Self.register(hub, "frank", "ipad", #"{"platform":"ios"}"#, token: HubProcess.token(role: .admin, sub: "ops")).status == 200)
        #expect(try mine.request("DELETE", "/api/users/frank/devices/pixel").status == 204)
        #expect(try mine.request("DELETE", "/api/users/frank/devices/pixel").status == 404)
        let left = try mine.get("/api/users/frank/devices").json["devices"] as? [[String: Any]] ?? []
        #expect(left.compactMap { $0["deviceId"] as? String } == ["ipad"])
    }

    @Test func devicesSurviveARestartWithTheirTokensEncryptedAtRest() throws {
        let key = String(repeating: "7f", count: 32)
        let config: [String: Any] = ["store": ["kind": "sqlite", "encryptionKey": key]]
        let token = "fcm-secret-token-survives-restart"
        let first = try HubProcess(config: config)
        #expect(try Self.register(first, "gina", "pixel", #"{"platform":"android","pushToken":"\#(token)","appVersion":"3.0"}"#).status == 200)
        #expect(first.stop() == 0)
        var stored = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: first.dataDir.path) where name.hasPrefix("switchboard.db") {
            stored.append(try Data(contentsOf: first.dataDir.appendingPathComponent(name)))
        }
        #expect(!stored.isEmpty)
        #expect(stored.range(of: Data(token.utf8)) == nil, "the push token is not stored in the clear")
        #expect(!first.log.contains(token), "nor logged")
        let second = try HubProcess(config: config, dataDir: first.dataDir)
        let devices = try second.http.get("/api/users/gina/devices").json["devices"] as? [[String: Any]] ?? []
        #expect(devices.count == 1)
        #expect(devices.first?["pushToken"] as? String == token)
        #expect(devices.first?["appVersion"] as? String == "3.0")
    }

    @Test func aCallRingingAcrossARestartIsNotPushedAgainAndStillTimesOut() throws {
        let standIns = try StandIns()
        var push = standIns.pushConfig
        push["ringTimeoutSec"] = 2
        let config: [String: Any] = ["store": ["kind": "sqlite"], "push": push]
        let first = try HubProcess(config: config)
        #expect(try Self.register(first, "lena", "pixel", #"{"platform":"android","pushToken":"fcm-token-lena"}"#).status == 200)
        try Self.ring(first, "across-restart", callee: "lena")
        #expect(try Self.wait { try standIns.requests("fcm", session: "across-restart").count == 1 })
        #expect(first.stop() == 0)
        let second = try HubProcess(config: config, dataDir: first.dataDir)
        let more = try second.http.postJSON("/api/calls/across-restart/events", #"{"id":"after","metadata":{"k":"v"}}"#)
        #expect(more.status == 200)
        #expect(try Self.wait(timeout: 6) {
            try second.http.get("/api/calls/across-restart").json["callState"] as? String == "no_answer"
        }, "the restored ring still times out")
        #expect(try standIns.requests("fcm", session: "across-restart").count == 1, "no second push after the restart")
    }

    /// A push service that accepts connections and never answers (a TCP
    /// backlog nobody reads) must not hold up the ring's answer or its frame.
    @Test func aPushServiceThatNeverAnswersDelaysNeitherTheAnswerNorTheFrame() throws {
        let port = try freePort()
        let silent = Process()
        silent.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        silent.arguments = ["-c", "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', \(port)))\ns.listen(64)\nprint('READY', flush=True)\ntime.sleep(120)"]
        let output = LogBuffer()
        let pipe = Pipe()
        output.capture(silent, through: pipe)
        try silent.run()
        defer {
            kill(silent.processIdentifier, SIGKILL)
            silent.waitUntilExit()
            pipe.fileHandleForReading.readabilityHandler = nil
        }
        #expect(Self.wait(timeout: 10) { output.text.contains("READY") })
        let standIns = try StandIns()
        var push = standIns.pushConfig
        var apns = push["apns"] as? [String: Any] ?? [:]
        apns["url"] = "https://127.0.0.1:\(port)"
        push["apns"] = apns
        push["timeoutMs"] = 60_000
        let hub = try HubProcess(config: ["push": push])
        for i in 0..<20 {
            #expect(try Self.register(hub, "mona", "phone-\(i)", #"{"platform":"ios","voipPushToken":"\#(Self.apnsToken)"}"#).status == 200)
        }
        let ws = try hub.connect("/ws/calls/silent-push", token: HubProcess.token(role: .viewer, sub: "watcher", sid: "silent-push"))
        _ = try ws.nextJSON()
        let started = Date()
        try Self.ring(hub, "silent-push", callee: "mona")
        var frame = try ws.nextJSON(timeout: 2)
        while frame["type"] as? String != "state_change" { frame = try ws.nextJSON(timeout: 2) }
        let elapsed = Date().timeIntervalSince(started)
        #expect(frame["state"] as? String == "ringing")
        #expect(elapsed < 1, "answer and frame within a second while 20 pushes hang: \(elapsed) s")
        let health = Date()
        #expect(try hub.anonymous.get("/healthz").status == 200)
        #expect(Date().timeIntervalSince(health) < 0.5)
    }

    @Test func pushNeededIsDeliveredAsAWebhookWithTheDevicesButNoTokens() throws {
        let standIns = try StandIns()
        let receiverPort = try freePort()
        let receiver = try WebhookReceiver(port: receiverPort, secret: OutboundWebhookTests.secret)
        let hub = try Self.hub(standIns, extra: OutboundWebhookTests.config(port: receiverPort, events: ["push.needed"]))
        #expect(try Self.register(hub, "hank", "iphone", #"{"platform":"ios","voipPushToken":"\#(Self.apnsToken)"}"#).status == 200)
        try Self.ring(hub, "needed", callee: "hank")
        #expect(try receiver.wait { log in log.contains { $0["type"] as? String == "push.needed" && ($0["status"] as? Int) == 200 } })
        let event = try #require(try receiver.log().first { $0["type"] as? String == "push.needed" })
        #expect(event["signed"] as? Bool == true)
        #expect(event["sessionId"] as? String == "needed")
        let data = try #require(event["data"] as? [String: Any])
        #expect(data["type"] as? String == "incoming_call" && data["callId"] as? String == "call-needed")
        #expect(data["calleeSub"] as? String == "hank")
        let devices = data["devices"] as? [[String: Any]] ?? []
        #expect(devices.compactMap { $0["deviceId"] as? String } == ["iphone"])
        #expect(!String(decoding: try JSONSerialization.data(withJSONObject: data), as: UTF8.self).contains(Self.apnsToken),
                "no device token in the event")
        #expect(try receiver.log().filter { $0["type"] as? String != "push.needed" }.isEmpty, "only the subscribed type")
    }

    @Test func initiateWithAnIdentityNamesTheCallee() throws {
        let hub = try HubProcess()
        let created = try hub.http.postJSON("/api/calls/initiate", #"{"phoneNumber":"+15550199","identity":"ivy"}"#)
        #expect(created.status == 201, "\(created.text)")
        let session = try #require(created.json["sessionId"] as? String)
        #expect(try hub.http.get("/api/calls/\(session)").json["calleeSub"] as? String == "ivy")
        let anonymous = try hub.http.postJSON("/api/calls/initiate", #"{"phoneNumber":"+15550199"}"#)
        let other = try #require(anonymous.json["sessionId"] as? String)
        #expect(try hub.http.get("/api/calls/\(other)").json["calleeSub"] is NSNull, "no identity, no callee")
    }

    @Test func pushKeysHaveTheProtocolDefaultsAndAreChecked() throws {
        let c = try ConfigLoader.load(fileBytes: nil, environment: [:])
        #expect(c.push.tokenTtlSec == 120 && c.push.ringTimeoutSec == 30)
        #expect(c.push.apnsURL == "https://api.push.apple.com" && c.push.fcmURL == "https://fcm.googleapis.com")
        #expect(c.push.expoURL == "https://exp.host/--/api/v2/push/send")
        let env = try ConfigLoader.load(fileBytes: nil, environment: ["SWITCHBOARD_PUSH_RING_TIMEOUT_SEC": "5"])
        #expect(env.push.ringTimeoutSec == 5)
        for (json, key) in [
            (#"{"push":{"apns":{"keyID":"x"}}}"#, "push.apns.keyID"),
            (#"{"push":{"fcm":{"serviceAccount":{"project_id":"p"}}}}"#, "push.fcm.serviceAccount"),
            (#"{"push":{"expo":{"url":"exp.host"}}}"#, "push.expo.url"),
            (#"{"push":{"ringTimeoutSec":0}}"#, "push.ringTimeoutSec"),
        ] {
            do {
                _ = try ConfigLoader.load(fileBytes: Array(json.utf8), environment: [:])
                Issue.record("\(json) was accepted")
            } catch {
                #expect(error.key == key, "\(json)")
            }
        }
    }

    @Test func anIncompleteAPNsConfigurationStopsTheStartNamingTheMissingKey() throws {
        let run = try HubProcess.runToExit(arguments: ["serve", "--port", "0"],
                                           environment: ["SWITCHBOARD_PUSH_APNS_KEYID": "K1", "SWITCHBOARD_STORE_KIND": "memory",
                                                         "SWITCHBOARD_AUTH_HS256SECRET": HubProcess.secret])
        #expect(run.status == 78)
        #expect(run.output.contains("push.apns.teamId"), "\(run.output)")
    }
}

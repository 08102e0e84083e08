extension HubConfig {
    /// Devices and push (PROTOCOL.md §10, docs/push.md). A provider whose
    /// credentials are absent is skipped: its tokens get the outcome `unconfigured`.
    public struct Push: Sendable, Equatable {
        /// APNs provider-token auth: `push.apns.keyId` (the `kid`).
        public var apnsKeyId: String?
        /// `push.apns.teamId` (the `iss`).
        public var apnsTeamId: String?
        /// `push.apns.privateKey`: the `.p8` PEM (inline or `@file`).
        public var apnsPrivateKey: String?
        /// `push.apns.topic`: the app's bundle id + `.voip`.
        public var apnsTopic: String?
        public var apnsURL = "https://api.push.apple.com"
        /// PEM bundle of CAs to trust for `push.apns.url` (nil: system CAs).
        public var apnsCAFile: String?
        /// `push.fcm.serviceAccount`: the service-account JSON text (inline, or `@file`).
        public var fcmServiceAccount: String?
        public var fcmURL = "https://fcm.googleapis.com"
        /// CAs for the FCM token and send endpoints (nil: system CAs).
        public var fcmCAFile: String?
        public var expoURL = "https://exp.host/--/api/v2/push/send"
        public var expoAccessToken: String?
        /// CAs for `push.expo.url` (nil: system CAs).
        public var expoCAFile: String?
        /// Lifetime of the client token carried in the push.
        public var tokenTtlSec = 120
        /// How long a pushed call may stay `ringing`/`queued` before `no_answer`.
        public var ringTimeoutSec = 30
        /// Per-request timeout of push HTTP.
        public var timeoutMs = 10_000
    }
}

/// Every setting of PROTOCOL.md §8, with its default.
///
/// A plain `Sendable` value: loaded once at start (`ConfigLoader`), then handed
/// to the transport and the hub. Names mirror the JSON keys exactly.
public struct HubConfig: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        public var host = "0.0.0.0"
        public var port = 8080
        /// Base URL the providers call; Twilio signatures are computed on it.
        public var publicUrl = "http://localhost:8080"
        /// CIDRs whose `X-Forwarded-For` / `Forwarded` headers are believed.
        public var trustedProxies: [String] = []
    }
    public struct Auth: Sendable, Equatable {
        public var hs256Secret: String?
        public var publicKeys: [String] = []
        public var audience = "switchboard"
        public var maxTtlSec = 3600
    }
    public struct Security: Sendable, Equatable {
        public var allowedOrigins: [String] = []
    }
    public struct Limits: Sendable, Equatable {
        /// Distinct metadata keys one session's document may hold.
        public var maxMetadataKeys = 64
        /// UTF-8 bytes of one metadata value (a string's text; numbers and
        /// booleans are far below it).
        public var maxMetadataValueBytes = 1024
        /// The session's encoded document after an input; over it the input is refused.
        public var maxDocumentBytes = 65536
        /// Sustained HTTP writes (`/sync`, `/events`, `/initiate`) per token
        /// (`sub` + `sid`), per second.
        public var httpWritesPerSecond = 50
        /// HTTP writes one token may make at once, above the sustained rate.
        public var httpWriteBurst = 100
        /// Generic / Asterisk `v1` signatures remembered for the tolerance
        /// window (each binds to the first path it was used on).
        public var maxRememberedSignatures = 65536
        public var maxMessageBytes = 65536
        public var maxBodyBytes = 1_048_576
        /// Largest ElevenLabs `post_call_audio` body, streamed (never held).
        public var maxAudioBodyBytes = 134_217_728
        public var sendQueueBytes = 1_048_576
        public var maxConnectionsPerIp = 256
        public var messagesPerSecond = 50
        public var maxErrorsPerMinute = 30
        /// Largest HTTP request head (request line and fields); more is 431.
        public var maxHeaderBytes = 8192
        /// Time to receive a request head once its first byte arrived; then 408.
        public var headerTimeoutMs = 10_000
        /// Time to receive a request body once its head arrived; then 408.
        public var bodyTimeoutMs = 30_000
        /// An HTTP connection with nothing in flight is closed after this long.
        public var idleTimeoutMs = 60_000
    }
    public struct Keepalive: Sendable, Equatable {
        public var pingSec = 25
        public var timeoutSec = 60
    }
    public struct Merge: Sendable, Equatable {
        public var maxFutureSkewMs = 5000
        public var conflictWindowMs = 1000
        public var pendingWindowMs = 3000
    }
    public struct Interval: Sendable, Equatable {
        public var intervalMs: Int
    }
    public struct Retention: Sendable, Equatable {
        public var endedSec = 600
        public var timelineEntries = 500
        public var replayFrames = 256
        /// A live call with no accepted change this long is flagged `stale`
        /// (a derived flag in rows and filters, never a state); 0 = never.
        public var staleSec = 600
    }
    public struct Store: Sendable, Equatable {
        public var kind = "sqlite"
        /// nil: `<dataDir>/switchboard.db`.
        public var path: String?
        public var encryptionKey: String?
        /// Journaled inputs of one session between two snapshots of it.
        public var snapshotEvery = 500
        /// Longest time between a commit and a background checkpoint that
        /// covers it; an idle WAL is emptied after this long. 0: only by size.
        public var checkpointIntervalMs = 1000
        /// `store.url` (`store.kind` redis): where the cluster's log lives.
        public var url = "redis://127.0.0.1:6379/0"
        /// `store.redisReplicas`: with N > 0 every write waits for `WAIT N`
        /// instead of requiring `appendfsync always` on the primary.
        public var redisReplicas = 0
    }
    /// `cluster.*` (PROTOCOL.md §9).
    public struct Cluster: Sendable, Equatable {
        /// nil: `<hostname>:<port>`, resolved at start.
        public var nodeId: String?
    }
    /// The call archive (PROTOCOL.md §12).
    public struct History: Sendable, Equatable {
        /// Days an ended call stays in the archive.
        public var retentionDays = 30
        /// Samples `GET /api/calls/{id}/quality` returns one by one; longer series are bucketed.
        public var qualityPoints = 3600
    }
    public struct Shutdown: Sendable, Equatable {
        public var drainSec = 10
    }
    public struct Providers: Sendable, Equatable {
        public var twilioAuthToken: String?
        /// `providers.twilio.accountSid`, `apiKeySid`, `apiKeySecret`,
        /// `twimlAppSid`, `tokenTtlSec`: what Voice access tokens are minted
        /// with (`HubConfig.twilioAccessToken`).
        public var twilioAccountSid: String?
        public var twilioApiKeySid: String?
        public var twilioApiKeySecret: String?
        public var twilioTwimlAppSid: String?
        public var twilioTokenTtlSec = 3600
        public var elevenlabsSecret: String?
        /// `providers.elevenlabs.summaryMaxChars`: longest `transcriptSummary`
        /// kept from `post_call_transcription` (0 keeps none).
        public var elevenlabsSummaryMaxChars = 500
        public var agoraSecret: String?
        public var telnyxPublicKey: String?
        public var genericSecret: String?
    }

    /// One `webhooks.endpoints` item (PROTOCOL.md §11).
    public struct WebhookEndpoint: Sendable, Equatable {
        /// Where deliveries are POSTed (`http://` or `https://`).
        public var url: String
        /// The HMAC key of `X-Switchboard-Signature` (inline or `@file` in the config).
        public var secret: String
        /// Event types delivered, or `*` for all.
        public var events: [String]

        public init(url: String, secret: String, events: [String]) {
            self.url = url
            self.secret = secret
            self.events = events
        }
    }
    /// Outbound webhooks (PROTOCOL.md §11, docs/webhooks.md).
    public struct Webhooks: Sendable, Equatable {
        public var endpoints: [WebhookEndpoint] = []
        /// Attempts per delivery before it becomes a dead letter.
        public var maxAttempts = 10
        /// A delivery older than this is a dead letter at its next failure.
        public var maxAgeSec = 86_400
        /// Per-attempt timeout (connect + request + response).
        public var timeoutMs = 5000
        /// Requests in flight per endpoint.
        public var concurrency = 16
        /// PEM bundle of private CAs to trust for `https://` endpoints (nil: system CAs).
        public var caFile: String?
        /// First retry delay; doubles per attempt, with jitter.
        public var backoffMs = 10_000
        /// Longest retry delay.
        public var maxBackoffMs = 3_600_000
    }

    public var server = Server()
    public var auth = Auth()
    public var security = Security()
    public var limits = Limits()
    public var keepalive = Keepalive()
    public var merge = Merge()
    public var quality = Interval(intervalMs: 1000)
    public var dashboard = Interval(intervalMs: 250)
    public var retention = Retention()
    public var store = Store()
    public var cluster = Cluster()
    public var history = History()
    public var shutdown = Shutdown()
    public var providers = Providers()
    public var webhooks = Webhooks()
    /// Devices and push (§10).
    public var push = Push()
    /// Where the journal and generated secrets live (`--data-dir`).
    public var dataDir = "data"
    /// Directory of static files served at `/`.
    public var publicDir = "public"

    public init() {}
}

/// One session's merge engine (PROTOCOL.md §2): a value type the hub's reactor
/// owns and mutates with `apply(_:now:)` and `tick(now:)`.
///
/// The merged state is a set of last-writer-wins registers (one per field, one
/// per metadata key; the order is `MergeOrder`) plus the `callState` witnesses
/// of the derived fields (`Lifecycle`). All of it is a pure function of the set
/// of updates applied, so replaying a journal, or merging another replica with
/// `merge(_:now:)`, gives the same document in any order. Only `lastSync`,
/// `syncStatus`, `version` and quality depend on arrival.
///
/// No clock is read here: every time comes in as `now` (hub ms).
public struct CallSession: Sendable, Codable {
    // Stored properties are laid out in declaration order: what every input
    // touches comes first, so an apply reads few cache lines of the session.

    /// +1 per accepted change of the document or quality (§2.6); starts at 0.
    public internal(set) var version: Int64
    /// The `callState` register's value, cached because every input reads it.
    private var callState: CallStateValue?
    private var lastSync: Int64?
    private var sync = SyncTracker()
    private var lifecycle = Lifecycle()
    private var dedupe: DedupeMemory
    private var timelineRing: BoundedRing<TimelineEntry>
    /// Registers of `Field.scalarFields`, indexed by `Field.slot`.
    private var scalars: [FieldRegister]
    /// Registers of metadata keys.
    private var metadata = MetadataRegisters()
    /// The tunables this session was created with.
    public let config: MergeConfig
    /// The session's id.
    public let sessionId: String
    /// Changes only when the hub loses the session's history (§2.6).
    public internal(set) var epoch: String
    private var qualityTracker: QualityTracker

    /// Creates an empty session at version 0.
    public init(sessionId: String, epoch: String, config: MergeConfig = MergeConfig()) {
        self.sessionId = sessionId
        self.epoch = epoch
        self.version = 0
        self.config = config
        scalars = Array(repeating: .unset, count: Field.scalarFields.count)
        qualityTracker = QualityTracker(config: config)
        dedupe = DedupeMemory(capacity: config.dedupeWindow)
        timelineRing = BoundedRing(capacity: config.timelineEntries)
    }

    // MARK: - Reading

    /// The quality state: latest sample, aggregate, warnings.
    public var quality: QualityState { qualityTracker.state }

    /// The timeline (§2.7), oldest first, at most `config.timelineEntries`.
    public var timeline: [TimelineEntry] { timelineRing.elements }

    /// `document.endedAt` without building the document (retention checks
    /// every session every second).
    public var endedAt: Int64? { lifecycle.times.endedAt }

    /// `document.lastSync` without building the document.
    public var lastSyncAt: Int64? { lastSync }

    /// `document.callState` without building the document (dashboard rows).
    public var currentCallState: CallStateValue? { callState }

    /// `document.syncStatus` without building the document.
    public var syncStatus: SyncStatus { sync.status }

    /// `document.startedAt` and `answeredAt` without building the document.
    public var startedAt: Int64? { lifecycle.times.startedAt }
    public var answeredAt: Int64? { lifecycle.times.answeredAt }

    /// The merged document, derived fields included.
    public var document: CallDocument {
        func text(_ field: Field) -> String? { winner(field)?.value.stringValue }
        var doc = CallDocument(sessionId: sessionId)
        doc.callId = text(.callId)
        doc.callUUID = text(.callUUID)
        doc.direction = text(.direction)
        doc.from = text(.from)
        doc.to = text(.to)
        doc.phoneNumber = text(.phoneNumber)
        doc.provider = text(.provider)
        doc.providerCallId = text(.providerCallId)
        doc.twilioCallSid = text(.twilioCallSid)
        doc.sipCallId = text(.sipCallId)
        doc.calleeSub = text(.calleeSub)
        doc.deviceStatus = text(.deviceStatus)
        doc.callState = callState
        doc.logStatus = doc.callState?.logStatus
        doc.recording = Recording(
            active: winner(.recordingActive)?.value.boolValue,
            recordingId: text(.recordingId),
            format: text(.recordingFormat),
            duration: winner(.recordingDuration)?.value.doubleValue.map(CallSession.wholeSeconds))
        doc.quality = qualityTracker.state.latest
        for (key, register) in zip(metadata.keys, metadata.registers)
        where register.isSet && register.update.value != .null {
            doc.metadata[key] = register.update.value
        }
        let times = lifecycle.times
        doc.startedAt = times.startedAt
        doc.answeredAt = times.answeredAt
        doc.endedAt = times.endedAt
        doc.duration = times.duration
        doc.lastSync = lastSync
        doc.syncStatus = sync.status
        doc.version = version
        return doc
    }

    /// A duration in whole seconds; past Int64 it saturates instead of
    /// trapping (a report of `"duration": 1e300` is finite and accepted).
    static func wholeSeconds(_ seconds: Double) -> Int64 {
        Int64(exactly: seconds.rounded()) ?? (seconds < 0 ? 0 : .max)
    }

    /// Metadata keys this session holds a register for (a key cleared with
    /// `null` keeps its register, for the merge order).
    public var metadataKeyCount: Int { metadata.keys.count }

    /// Whether `key` already has a metadata register here.
    public func holdsMetadataKey(_ key: String) -> Bool { metadata[key] != nil }

    /// Gives a session decoded from an older snapshot a register for every
    /// field added since (`calleeSub`, §10): fields are only ever appended
    /// to `Field.scalarFields`, and a new field starts unset. Without it the
    /// first read of such a field indexes past the decoded registers.
    public mutating func addRegistersOfNewFields() {
        let missing = Field.scalarFields.count - scalars.count
        if missing > 0 { scalars += Array(repeating: .unset, count: missing) }
    }

    /// The winning update of a field, if any was applied.
    public func winner(_ field: Field) -> Update? {
        if let slot = field.slot { return scalars[slot].winner }
        if case .metadata(let key) = field { return metadata[key]?.winner }
        return nil
    }

    /// A set of updates whose merge reproduces this session's merged state:
    /// every field winner plus the witnesses of the derived fields. Applying
    /// them to another session (see `merge(_:now:)`) joins the two states.
    public var stateUpdates: [Update] {
        var result: [Update] = scalars.compactMap(\.winner)
        result += metadata.registers.compactMap(\.winner)
        for witness in lifecycle.witnesses where !result.contains(witness) {
            result.append(witness)
        }
        return result
    }

    /// The earliest hub time at which `tick(now:)` may change something: the
    /// `pending` → `conflict` flip of `syncStatus`, or a quality warning whose
    /// clear delay runs out. Nil when nothing is scheduled.
    public func nextDeadline() -> Int64? {
        let syncAt = sync.deadline(windowMs: config.pendingWindowMs)
        let qualityAt = qualityTracker.clearDeadline(config: config)
        switch (syncAt, qualityAt) {
        case let (a?, b?): return min(a, b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        case (nil, nil): return nil
        }
    }

    // MARK: - Changing

    /// Applies one input at hub time `now` (§2.1-§2.7): dedupes it, clamps
    /// future timestamps, merges each update, recomputes the derived fields,
    /// folds in quality samples, re-evaluates `syncStatus`, records the
    /// timeline, and bumps `version` once if the document or quality changed.
    public mutating func apply(_ input: Input, now: Int64) -> ApplyOutcome {
        // Remembered up front: the input is applied below whatever its updates do.
        if let eventId = input.eventId, !dedupe.remember(source: input.source, eventId: eventId) {
            let results = UpdateResults(repeating: .duplicate, count: input.updates.count)
            record(input, now: now, results: results, conflicts: [])
            return ApplyOutcome(version: version, duplicate: true, updates: input.updates, results: results,
                                changedKeys: DocumentKeySet(), qualityChanged: false)
        }

        var changes = DocumentKeySet()
        var results = UpdateResults()
        var conflicts: [Conflict] = []
        let timesBefore = lifecycle.times
        let logStatusBefore = callState?.logStatus
        var carriesOtherKeys = false
        for i in input.updates.indices {
            let result = merge(input.updates[i], from: input, now: now, conflicts: &conflicts, changes: &changes)
            results.append(result)
            if CallSession.ownEventId(of: input.updates[i], in: input) != nil { carriesOtherKeys = true }
        }
        if carriesOtherKeys { rememberUpdateEventIds(of: input, results: results) }

        if callState?.logStatus != logStatusBefore { changes.insert(.logStatus) }
        let timesAfter = lifecycle.times
        if timesAfter != timesBefore {
            if timesAfter.startedAt != timesBefore.startedAt { changes.insert(.startedAt) }
            if timesAfter.answeredAt != timesBefore.answeredAt { changes.insert(.answeredAt) }
            if timesAfter.endedAt != timesBefore.endedAt { changes.insert(.endedAt) }
            if timesAfter.duration != timesBefore.duration { changes.insert(.duration) }
        }

        var qualityChanged = false
        for sample in input.quality where qualityTracker.add(sample, now: now, config: config) {
            qualityChanged = true
        }
        if updateSyncStatus(now: now) { changes.insert(.syncStatus) }

        if !changes.isEmpty || qualityChanged {
            version += 1
            lastSync = now
        }
        record(input, now: now, results: results, conflicts: conflicts)
        return ApplyOutcome(version: version, updates: input.updates, results: results, conflicts: conflicts,
                            changedKeys: changes, qualityChanged: qualityChanged)
    }

    /// Applies the changes that are due by time alone (`syncStatus` turning
    /// `conflict`, quality warnings clearing). Returns nil, and leaves
    /// `version` alone, when nothing changed; call it at `nextDeadline()`.
    public mutating func tick(now: Int64) -> ApplyOutcome? {
        var changes = DocumentKeySet()
        if updateSyncStatus(now: now) { changes.insert(.syncStatus) }
        let qualityChanged = qualityTracker.tick(now: now, config: config)
        guard !changes.isEmpty || qualityChanged else { return nil }
        version += 1
        return ApplyOutcome(version: version, changedKeys: changes, qualityChanged: qualityChanged)
    }

    /// Joins another replica's merged state into this one by applying its
    /// `stateUpdates` as one input (kind `merge`, source `hub`). Afterwards the
    /// document's convergent part (`CallDocument.convergentJSON`) equals that of
    /// a session that saw both sets of inputs. Quality samples, the timeline and
    /// the idempotency memory are per replica and are not merged.
    public mutating func merge(_ other: CallSession, now: Int64) -> ApplyOutcome {
        let input = Input(kind: "merge", source: "hub", sourceKind: .backend, receivedAt: now,
                          updates: other.stateUpdates)
        return apply(input, now: now)
    }

    // MARK: - Internals

    /// The update's event id when its `(source, eventId)` differs from the
    /// input's own key (a merged replica's winners keep their original ones).
    private static func ownEventId(of update: Update, in input: Input) -> String? {
        guard let eventId = update.eventId, eventId != input.eventId || update.source != input.source else {
            return nil
        }
        return eventId
    }

    /// Merges one update; returns what became of it.
    private mutating func merge(_ update: Update, from input: Input, now: Int64,
                                conflicts: inout [Conflict], changes: inout DocumentKeySet) -> UpdateResult {
        let field = update.field
        // The input's own key was checked in `apply`; an update may carry another.
        if let eventId = CallSession.ownEventId(of: update, in: input),
           dedupe.contains(source: update.source, eventId: eventId) {
            return UpdateResult(outcome: .duplicate, clamped: false)
        }
        var state: CallStateValue?
        if field == .callState {
            state = update.value.stringValue.flatMap(CallStateValue.parse)
        }
        guard state != nil || (field != .callState && field.accepts(update.value)) else {
            return UpdateResult(outcome: .invalid, clamped: false)
        }

        var candidate = FieldRegister(update: update, state: state)
        let clamped = update.ts > now.saturatingAdd(config.maxFutureSkewMs)
        if clamped {
            candidate.update.ts = now
        }
        // Witnesses first, so the candidate can then move into its register.
        if state != nil { lifecycle.observe(candidate) }
        // Resolved in place: one array index or one hash lookup, no register copy.
        let result: UpdateFate
        if let slot = field.slot {
            result = CallSession.resolve(consume candidate, into: &scalars[slot], windowMs: config.conflictWindowMs,
                                         conflicts: &conflicts, changes: &changes)
            if slot == Field.callStateSlot { callState = scalars[slot].state }
        } else if case .metadata(let key) = field {
            let position = metadata.position(of: key)
            result = CallSession.resolve(consume candidate, into: &metadata.registers[position],
                                         windowMs: config.conflictWindowMs,
                                         conflicts: &conflicts, changes: &changes)
        } else {
            result = .invalid
        }
        return UpdateResult(outcome: result, clamped: clamped)
    }

    /// The LWW step (§2.2) and conflict classification (§2.4) for one register;
    /// returns `applied`, `stale` or `conflict`.
    private static func resolve(_ candidate: consuming FieldRegister, into register: inout FieldRegister,
                                windowMs: Int64, conflicts: inout [Conflict],
                                changes: inout DocumentKeySet) -> UpdateFate {
        // The explicit `consume`s move the candidate into the register; without
        // them the optimiser copied it (four retains) and destroyed the original.
        let documentKey = candidate.update.field.documentKey
        guard register.isSet else {
            // An absent field and a null one look the same in the document.
            if candidate.update.value != .null { changes.insert(documentKey) }
            register = consume candidate
            return .applied
        }
        let comparison = candidate.compare(with: register)
        let agree = candidate.update.value.sameJSON(as: register.update.value)
        if comparison.order > 0 {
            if !agree {
                changes.insert(documentKey)
                if let rule = MergeOrder.conflictRule(winner: candidate.update, loser: register.update,
                                                      decidedBy: comparison.rule, windowMs: windowMs) {
                    conflicts.append(Conflict(field: candidate.update.field, kept: Conflict.Side(candidate.update),
                                              discarded: Conflict.Side(register.update), rule: rule))
                }
            }
            register = consume candidate
            return .applied
        }
        if !agree, let rule = MergeOrder.conflictRule(winner: register.update, loser: candidate.update,
                                                      decidedBy: comparison.rule, windowMs: windowMs) {
            conflicts.append(Conflict(field: candidate.update.field, kept: Conflict.Side(register.update),
                                      discarded: Conflict.Side(candidate.update), rule: rule))
            return .conflict
        }
        return .stale
    }

    /// Remembers the keys updates carried besides the input's own (a merge's
    /// replica winners). Done after the loop so updates of one input that share
    /// a key do not count as each other's duplicates.
    private mutating func rememberUpdateEventIds(of input: Input, results: UpdateResults) {
        for (i, update) in input.updates.enumerated() where results[i].outcome != .duplicate {
            if let eventId = CallSession.ownEventId(of: update, in: input) {
                dedupe.remember(source: update.source, eventId: eventId)
            }
        }
    }

    private mutating func updateSyncStatus(now: Int64) -> Bool {
        sync.update(client: lifecycle.clientState, provider: lifecycle.providerState,
                    now: now, windowMs: config.pendingWindowMs, ended: callState?.isTerminal == true)
    }

    private mutating func record(_ input: Input, now: Int64, results: UpdateResults, conflicts: [Conflict]) {
        guard timelineRing.capacity > 0 else { return }
        timelineRing.append(TimelineEntry(
            at: now, kind: input.kind, source: input.source, sourceKind: input.sourceKind,
            eventId: input.eventId, inputUpdates: input.updates, results: results, conflicts: conflicts,
            qualitySamples: input.quality.count, version: version))
    }
}

extension Field {
    /// `callState`'s register index, looked up once.
    static let callStateSlot = Field.callState.slot ?? 11
}

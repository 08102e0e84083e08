import CallState
import JSONCodec

/// `Input` <-> JSON bytes for the journal, lossless for every field.
///
/// The layout is JSON (through `JSONCodec`) so a journal can be read with
/// `sqlite3` and `jq` when something goes wrong, and so a later version can
/// add keys without a migration. Keys are short because every input is
/// stored; `"v"` is the format version.
///
/// ```
/// {"v":1,"kind":"twilio.status","src":"twilio","sk":"provider","id":"CA1:3:ringing","at":1700000000000,
///  "u":[{"f":"callState","val":"ringing","ts":…,"src":"twilio","sk":"provider","seq":3,"id":"CA1:3:ringing"},
///       {"mk":"agent","val":"ann",…}],
///  "q":[{"ts":…,"src":"client:ann","lat":40.5,"rtt":81,"jit":3,"loss":0.5,"mos":4.2}]}
/// ```
///
/// Two things JSON (or jansson) would lose are handled here:
/// - Strings containing U+0000: jansson refuses `\u0000` when decoding, and a
///   form-encoded webhook can carry `%00`. Every string and object key is
///   escaped with U+0001 as the escape character (`\u{1}` → `\u{1}1`,
///   `\u{0}` → `\u{1}0`); strings without either character, i.e. all real
///   ones, are stored unchanged.
/// - Non-finite quality numbers (JSON has no NaN): stored as the strings
///   `"NaN"`, `"Infinity"`, `"-Infinity"`. Non-finite doubles inside a field
///   value cannot occur (values come from JSON) and would be stored as null.
///
/// Metadata updates store their key under `"mk"`, not as `"metadata.<key>"`,
/// so even an empty key (which `Field(name:)` refuses) survives.
public enum InputCodec {
    /// The format version written in `"v"`.
    public static let formatVersion: Int64 = 1

    /// Encodes an input as compact UTF-8 JSON: the bytes of
    /// `JSONCodec.encode(jsonValue(input))`, written directly.
    ///
    /// This runs once per journaled input on the writer thread; building the
    /// tree first (a dictionary per update, keys sorted per object) cost
    /// about as much as the SQLite insert, so the known layout is written
    /// with its keys already in sorted byte order.
    public static func encode(_ input: Input) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + 140 * input.updates.count + 100 * input.quality.count)
        out.append(contentsOf: #"{"at":"#.utf8)
        writeInt(input.receivedAt, into: &out)
        if let eventId = input.eventId {
            out.append(contentsOf: #","id":"#.utf8)
            writeString(eventId, into: &out)
        }
        out.append(contentsOf: #","kind":"#.utf8)
        writeString(input.kind, into: &out)
        if !input.quality.isEmpty {
            out.append(contentsOf: #","q":["#.utf8)
            for (index, sample) in input.quality.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(sample, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: #","sk":""#.utf8)
        out.append(contentsOf: input.sourceKind.rawValue.utf8)
        out.append(contentsOf: #"","src":"#.utf8)
        writeString(input.source, into: &out)
        out.append(contentsOf: #","u":["#.utf8)
        for (index, update) in input.updates.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            write(update, into: &out)
        }
        out.append(contentsOf: #"],"v":"#.utf8)
        writeInt(formatVersion, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    // Keys in UTF-8 byte order, as JSONCodec sorts them: f id mk seq sk src ts val.
    private static func write(_ update: Update, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        if case .metadata = update.field {} else {
            out.append(contentsOf: #""f":""#.utf8)
            out.append(contentsOf: update.field.name.utf8)
            out.append(contentsOf: #"","#.utf8)
        }
        if let eventId = update.eventId {
            out.append(contentsOf: #""id":"#.utf8)
            writeString(eventId, into: &out)
            out.append(UInt8(ascii: ","))
        }
        if case .metadata(let key) = update.field {
            out.append(contentsOf: #""mk":"#.utf8)
            writeString(key, into: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: #""seq":"#.utf8)
        writeInt(update.seq, into: &out)
        out.append(contentsOf: #","sk":""#.utf8)
        out.append(contentsOf: update.sourceKind.rawValue.utf8)
        out.append(contentsOf: #"","src":"#.utf8)
        writeString(update.source, into: &out)
        out.append(contentsOf: #","ts":"#.utf8)
        writeInt(update.ts, into: &out)
        out.append(contentsOf: #","val":"#.utf8)
        JSONCodec.write(escape(update.value), into: &out)
        out.append(UInt8(ascii: "}"))
    }

    // Keys in UTF-8 byte order: jit lat loss mos rtt src ts.
    private static func write(_ sample: QualitySample, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        let numbers: [(String, Double?)] = [
            (#""jit":"#, sample.jitter), (#""lat":"#, sample.latency), (#""loss":"#, sample.packetLoss),
            (#""mos":"#, sample.mos), (#""rtt":"#, sample.rtt),
        ]
        for case let (key, number?) in numbers {
            out.append(contentsOf: key.utf8)
            JSONCodec.write(encodeNumber(number), into: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: #""src":"#.utf8)
        writeString(sample.source, into: &out)
        out.append(contentsOf: #","ts":"#.utf8)
        writeInt(sample.ts, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    private static func writeString(_ s: String, into out: inout [UInt8]) {
        JSONCodec.write(.string(escape(s)), into: &out)
    }

    private static func writeInt(_ i: Int64, into out: inout [UInt8]) {
        out.append(contentsOf: String(i).utf8)
    }

    /// Decodes what `encode` produced.
    /// - Throws: `StoreError` for bytes that are not JSON or not an encoded input.
    public static func decode(_ bytes: [UInt8]) throws(StoreError) -> Input {
        let value: JSONValue
        do {
            value = try JSONCodec.parse(bytes)
        } catch {
            throw StoreError(message: "journal entry is not valid JSON: \(error)")
        }
        return try input(from: value)
    }

    /// The JSON tree `encode` writes (`encode` produces exactly its
    /// `JSONCodec` bytes; tests hold it to that).
    public static func jsonValue(_ input: Input) -> JSONValue {
        var object: [String: JSONValue] = [
            "v": .int(formatVersion),
            "kind": .string(escape(input.kind)),
            "src": .string(escape(input.source)),
            "sk": .string(input.sourceKind.rawValue),
            "at": .int(input.receivedAt),
            "u": .array(input.updates.map(jsonValue)),
        ]
        if let eventId = input.eventId { object["id"] = .string(escape(eventId)) }
        if !input.quality.isEmpty { object["q"] = .array(input.quality.map(jsonValue)) }
        return .object(object)
    }

    /// Rebuilds an input from the tree `jsonValue(_:)` made.
    /// - Throws: `StoreError` naming the first missing or mistyped member.
    public static func input(from value: JSONValue) throws(StoreError) -> Input {
        guard case .object(let object) = value else { throw corrupt("not an object") }
        guard let version = object["v"]?.intValue else { throw corrupt("no format version") }
        guard version == formatVersion else {
            throw StoreError(message: "journal entry has format version \(version); this build reads \(formatVersion)")
        }
        var updates: [Update] = []
        if let list = object["u"] {
            guard case .array(let items) = list else { throw corrupt("u is not an array") }
            updates.reserveCapacity(items.count)
            for item in items { updates.append(try update(from: item)) }
        }
        var quality: [QualitySample] = []
        if let list = object["q"] {
            guard case .array(let items) = list else { throw corrupt("q is not an array") }
            quality.reserveCapacity(items.count)
            for item in items { quality.append(try sample(from: item)) }
        }
        return Input(
            kind: try string(object, "kind"),
            source: try string(object, "src"),
            sourceKind: try sourceKind(object),
            eventId: try optionalString(object, "id"),
            receivedAt: try int(object, "at"),
            updates: updates,
            quality: quality)
    }

    // MARK: Updates and samples

    private static func jsonValue(_ update: Update) -> JSONValue {
        var object: [String: JSONValue] = [
            "val": escape(update.value),
            "ts": .int(update.ts),
            "src": .string(escape(update.source)),
            "sk": .string(update.sourceKind.rawValue),
            "seq": .int(update.seq),
        ]
        if case .metadata(let key) = update.field {
            object["mk"] = .string(escape(key))
        } else {
            object["f"] = .string(update.field.name)
        }
        if let eventId = update.eventId { object["id"] = .string(escape(eventId)) }
        return .object(object)
    }

    private static func update(from value: JSONValue) throws(StoreError) -> Update {
        guard case .object(let object) = value else { throw corrupt("update is not an object") }
        let field: Field
        if object["mk"] != nil {
            field = .metadata(try string(object, "mk"))
        } else {
            let name = try string(object, "f")
            guard let parsed = Field(name: name) else { throw corrupt("unknown field \(name)") }
            field = parsed
        }
        guard let stored = object["val"] else { throw corrupt("update without val") }
        return Update(
            field: field, value: unescape(stored), ts: try int(object, "ts"),
            source: try string(object, "src"), sourceKind: try sourceKind(object),
            seq: try int(object, "seq"), eventId: try optionalString(object, "id"))
    }

    private static func jsonValue(_ sample: QualitySample) -> JSONValue {
        var object: [String: JSONValue] = ["ts": .int(sample.ts), "src": .string(escape(sample.source))]
        let numbers: [(String, Double?)] = [
            ("lat", sample.latency), ("rtt", sample.rtt), ("jit", sample.jitter),
            ("loss", sample.packetLoss), ("mos", sample.mos),
        ]
        for (key, number) in numbers {
            if let number { object[key] = encodeNumber(number) }
        }
        return .object(object)
    }

    private static func sample(from value: JSONValue) throws(StoreError) -> QualitySample {
        guard case .object(let object) = value else { throw corrupt("quality sample is not an object") }
        return QualitySample(
            ts: try int(object, "ts"),
            latency: try number(object, "lat"), rtt: try number(object, "rtt"),
            jitter: try number(object, "jit"), packetLoss: try number(object, "loss"),
            mos: try number(object, "mos"), source: try string(object, "src"))
    }

    // MARK: Members

    private static func corrupt(_ what: String) -> StoreError {
        StoreError(message: "journal entry is corrupt: \(what)")
    }

    private static func string(_ object: [String: JSONValue], _ key: String) throws(StoreError) -> String {
        guard case .string(let s)? = object[key] else { throw corrupt("\(key) is not a string") }
        return unescape(s)
    }

    private static func optionalString(_ object: [String: JSONValue], _ key: String) throws(StoreError) -> String? {
        guard object[key] != nil else { return nil }
        return try string(object, key)
    }

    private static func int(_ object: [String: JSONValue], _ key: String) throws(StoreError) -> Int64 {
        guard case .int(let i)? = object[key] else { throw corrupt("\(key) is not an integer") }
        return i
    }

    private static func sourceKind(_ object: [String: JSONValue]) throws(StoreError) -> SourceKind {
        guard case .string(let raw)? = object["sk"], let kind = SourceKind(rawValue: raw) else {
            throw corrupt("sk is not a source kind")
        }
        return kind
    }

    private static func encodeNumber(_ number: Double) -> JSONValue {
        if number.isFinite { return .double(number) }
        if number.isNaN { return .string("NaN") }
        return .string(number < 0 ? "-Infinity" : "Infinity")
    }

    private static func number(_ object: [String: JSONValue], _ key: String) throws(StoreError) -> Double? {
        switch object[key] {
        case nil: return nil
        // JSONCodec writes integral doubles as `2.0`, but accept `2` from hand-edited rows.
        case .double(let d)?: return d
        case .int(let i)?: return Double(i)
        case .string("NaN")?: return .nan
        case .string("Infinity")?: return .infinity
        case .string("-Infinity")?: return -.infinity
        default: throw corrupt("\(key) is not a number")
        }
    }

    // MARK: NUL escaping

    /// `\u{1}` → `\u{1}1`, `\u{0}` → `\u{1}0`; other strings unchanged.
    static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 <= 1 }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 4)
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0: out += "\u{1}0"
            case 1: out += "\u{1}1"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Inverse of `escape`. A dangling or unknown escape is kept as is:
    /// it cannot come from `escape`, and refusing a whole entry for it would
    /// lose more than it protects.
    static func unescape(_ s: String) -> String {
        guard s.utf8.contains(1) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count)
        var scalars = s.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            guard scalar.value == 1 else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalars.next() {
            case "0"?: out.unicodeScalars.append("\u{0}")
            case "1"?: out.unicodeScalars.append("\u{1}")
            case let other?:
                out.unicodeScalars.append(scalar)
                out.unicodeScalars.append(other)
            case nil:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func escape(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(escape(s))
        case .array(let items): return .array(items.map(escape))
        case .object(let members):
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(members.count)
            for (key, member) in members { out[escape(key)] = escape(member) }
            return .object(out)
        default: return value
        }
    }

    private static func unescape(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(unescape(s))
        case .array(let items): return .array(items.map(unescape))
        case .object(let members):
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(members.count)
            for (key, member) in members { out[unescape(key)] = unescape(member) }
            return .object(out)
        default: return value
        }
    }
}

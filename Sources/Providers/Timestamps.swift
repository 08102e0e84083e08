/// Hand-written parsers for the provider timestamp formats, to epoch ms.
///
/// No Foundation `DateFormatter`: these run per webhook, must not depend on
/// locale or time-zone data, and must give the same answer everywhere.
enum Timestamps {
    /// RFC 2822 / 5322 date-time, as Twilio sends `Timestamp`:
    /// `Wed, 20 Nov 2026 23:10:52 +0000`. The day name is optional; the zone
    /// may be `±hhmm`, `GMT`, `UT`, `UTC`, `Z` or a US zone (EST…PDT).
    static func rfc2822(_ text: String) -> Int64? {
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if let first = tokens.first, first.hasSuffix(",") { tokens.removeFirst() }
        guard tokens.count == 5,
              let day = Int(tokens[0]), (1...31).contains(day),
              let month = monthNumber(tokens[1]),
              var year = Int(tokens[2]) else { return nil }
        // RFC 2822 §4.3 obsolete two-digit years.
        if tokens[2].count == 2 { year += year < 50 ? 2000 : 1900 }
        let clock = tokens[3].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 2 || clock.count == 3,
              let hour = Int(clock[0]), (0...23).contains(hour),
              let minute = Int(clock[1]), (0...59).contains(minute) else { return nil }
        let second = clock.count == 3 ? Int(clock[2]) : 0
        guard let second, (0...60).contains(second),
              let offset = zoneOffsetSeconds(tokens[4]) else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return seconds * 1000
    }

    /// ISO 8601 / RFC 3339 date-time: `2026-11-20T23:11:02.004512Z` (Telnyx),
    /// `2026-11-20T23:10:05.120+0000` (Asterisk), `…+01:00`. Fractions
    /// beyond milliseconds are truncated; a zone is required.
    static func iso8601(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var value = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                value = value * 10 + Int(c - 0x30)
            }
            i += n
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")),
              let month = digits(2), (1...12).contains(month), expect(UInt8(ascii: "-")),
              let day = digits(2), (1...31).contains(day),
              i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hour = digits(2), (0...23).contains(hour), expect(UInt8(ascii: ":")),
              let minute = digits(2), (0...59).contains(minute), expect(UInt8(ascii: ":")),
              let second = digits(2), (0...60).contains(second) else { return nil }
        var millis = 0
        if i < b.count && (b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",")) {
            i += 1
            var scale = 100
            let start = i
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                millis += Int(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let hh = digits(2) else { return nil }
            _ = expect(UInt8(ascii: ":"))
            guard let mm = digits(2), hh <= 23, mm <= 59 else { return nil }
            offset = sign * (hh * 3600 + mm * 60)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return seconds * 1000 + Int64(millis)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
    /// `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    private static func monthNumber(_ name: String) -> Int? {
        months.firstIndex(of: name.lowercased()).map { $0 + 1 }
    }

    private static func zoneOffsetSeconds(_ zone: String) -> Int? {
        switch zone.uppercased() {
        case "GMT", "UT", "UTC", "Z": return 0
        case "EST": return -5 * 3600
        case "EDT": return -4 * 3600
        case "CST": return -6 * 3600
        case "CDT": return -5 * 3600
        case "MST": return -7 * 3600
        case "MDT": return -6 * 3600
        case "PST": return -8 * 3600
        case "PDT": return -7 * 3600
        default: break
        }
        let b = Array(zone.utf8)
        guard b.count == 5, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-"),
              let hh = Int(String(decoding: b[1...2], as: UTF8.self)),
              let mm = Int(String(decoding: b[3...4], as: UTF8.self)),
              hh <= 23, mm <= 59 else { return nil }
        return (b[0] == UInt8(ascii: "-") ? -1 : 1) * (hh * 3600 + mm * 60)
    }
}

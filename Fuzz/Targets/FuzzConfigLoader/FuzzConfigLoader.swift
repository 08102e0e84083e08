import Hub

/// The config loader (PROTOCOL.md §8): the input up to the first NUL byte
/// is the JSON file; each line after it is one `SWITCHBOARD_NAME=value`
/// environment variable. Whatever it loads must pass its own validation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigLoader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let split = bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
    let file = Array(split.first ?? [])
    var environment: [String: String] = [:]
    if split.count > 1 {
        for line in split[1].split(separator: UInt8(ascii: "\n")) {
            let pair = line.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { continue }
            environment["SWITCHBOARD_" + String(decoding: pair[0], as: UTF8.self)] = String(decoding: pair[1], as: UTF8.self)
        }
    }
    if let config = try? ConfigLoader.load(fileBytes: file, environment: environment) {
        precondition(config.keepalive.timeoutSec > config.keepalive.pingSec, "validation let an invalid keepalive through")
    }
    return 0
}

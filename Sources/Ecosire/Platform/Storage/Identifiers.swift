import Foundation
import Synchronization

/// UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version and variant bits, and random bits, so ids
/// sort by creation time. Within one millisecond a counter keeps them increasing in this process.
public enum UUIDv7 {
    private static let state = Mutex<(millis: UInt64, sequence: UInt16)>((0, 0))

    /// A new lowercase UUIDv7 string.
    public static func generate(now: Date = Date()) -> String {
        let wallMillis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let (millis, sequence) = state.withLock { state -> (UInt64, UInt16) in
            if wallMillis > state.millis {
                state = (wallMillis, UInt16.random(in: 0..<0x400))
            } else if state.sequence >= 0x0FFF {
                state = (state.millis + 1, 0)
            } else {
                state.sequence += 1
            }
            return (state.millis, state.sequence)
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: sequence >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: sequence)
        var random = SystemRandomNumberGenerator()
        for index in 8..<16 { bytes[index] = random.next() }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let parts = [
            hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20),
        ]
        return parts.joined(separator: "-")
    }
}

/// Wall-clock access that tests can replace.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date
    public init(_ read: @escaping @Sendable () -> Date) { self.read = read }
    /// The real clock.
    public static let system = WallClock { Date() }
    /// Now.
    public func now() -> Date { read() }
    /// Now in Unix milliseconds, the unit timestamps are stored in.
    public func nowMillis() -> Int64 { Int64((read().timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// Formatting of stored timestamps (Unix milliseconds) as the API's ISO 8601 strings.
public enum Timestamp {
    /// `2026-03-20T12:00:00.000Z`.
    public static func iso(millis: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Parses ISO 8601 into Unix milliseconds.
    public static func millis(iso: String) -> Int64? {
        Validators.parseDateTime(iso).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }
}

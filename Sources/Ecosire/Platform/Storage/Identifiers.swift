import Foundation
import NIOCore
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
        var random = SystemRandomNumberGenerator()
        // 48 bits of time, version 7 and 12 bits of sequence, then variant 10 and 62 random bits.
        let high = millis << 16 | 0x7000 | UInt64(sequence & 0x0FFF)
        let low = (random.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { text in
            var position = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                let word = index < 8 ? high : low
                let byte = UInt8(truncatingIfNeeded: word >> (8 * (7 - index % 8)))
                text[position] = Hex.digits[Int(byte >> 4)]
                text[position + 1] = Hex.digits[Int(byte & 0x0F)]
                position += 2
            }
            return position
        }
    }
}

/// Lowercase hexadecimal. `String(format:)` goes through Foundation's formatter and showed up in
/// profiles of requests that hash a secret or mint ids.
public enum Hex {
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The bytes as lowercase hex.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let bytes = Array(bytes)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { text in
            for (index, byte) in bytes.enumerated() {
                text[2 * index] = digits[Int(byte >> 4)]
                text[2 * index + 1] = digits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    /// The value of one hex digit (either case), or nil for any other byte.
    static func value(of digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
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
    /// Unix milliseconds of an ISO 8601 input, or nil. Rounded to the nearest millisecond: the
    /// binary fraction of a parsed `.123` can sit just below it, and flooring would lose a
    /// millisecond on every round trip through the API.
    public static func millis(parsing text: String) -> Int64? {
        Validators.parseDateTime(text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// `2026-03-20T12:00:00.000Z`. Computed arithmetically (the proleptic Gregorian calendar in
    /// UTC, Hinnant's days-to-civil) because a list response formats two per record and
    /// `Date.ISO8601FormatStyle` was a measurable share of its cost.
    public static func iso(millis: Int64) -> String {
        String(unsafeUninitializedCapacity: 32) { bytes in write(millis: millis, into: bytes) }
    }

    /// Appends the ISO form straight into a response buffer, without an intermediate String.
    public static func writeISO(millis: Int64, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 32) { raw in
            write(millis: millis, into: raw.bindMemory(to: UInt8.self))
        }
    }

    /// Writes the text into `bytes` (at least 32 long) and returns its length. Years outside
    /// 0...9999 get a sign and as many digits as they need (ISO 8601 expanded years).
    private static func write(millis: Int64, into bytes: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let msOfDay = millis - days * 86_400_000
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        var position = 0
        func put(_ byte: UInt8) {
            bytes[position] = byte
            position += 1
        }
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                put(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        if (0...9999).contains(year) {
            digits(year, 4)
        } else {
            put(year < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            let magnitude = year.magnitude
            digits(Int64(magnitude), max(6, String(magnitude).count))
        }
        put(UInt8(ascii: "-")); digits(month, 2); put(UInt8(ascii: "-")); digits(day, 2); put(UInt8(ascii: "T"))
        digits(msOfDay / 3_600_000, 2); put(UInt8(ascii: ":")); digits(msOfDay / 60_000 % 60, 2); put(UInt8(ascii: ":"))
        digits(msOfDay / 1000 % 60, 2); put(UInt8(ascii: ".")); digits(msOfDay % 1000, 3); put(UInt8(ascii: "Z"))
        return position
    }

    /// Days since 1970-01-01 (UTC) of a Unix-milliseconds time.
    public static func dayNumber(millis: Int64) -> Int64 {
        millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
    }

    /// `YYYY-MM-DD` of a day number.
    public static func day(number: Int64) -> String {
        String(iso(millis: number * 86_400_000).prefix(10))
    }

    /// Parses ISO 8601 into Unix milliseconds.
    public static func millis(iso: String) -> Int64? {
        Validators.parseDateTime(iso).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }
}

import Ecosire
import Foundation
import Testing

@Suite("JSON parsing, serialising and timestamps")
struct JSONAndTimeTests {
    @Test("parser and writer round-trip escapes, unicode, numbers and nesting like Foundation reads them")
    func roundTrip() throws {
        let text =
            #"{"a":"line\nbreak \"quoted\" back\\slash \u00e9 \ud83d\ude00 tab\t ctl\u0001","n":[0,-12,3.5,1e3,true,false,null],"o":{"x":{}}}"#
        let value = try JSONValue.parse(text)
        #expect(value["a"]?.stringValue == "line\nbreak \"quoted\" back\\slash é 😀 tab\t ctl\u{01}")
        #expect(value["n"] == [0, -12, .double(3.5), .double(1000), true, false, nil])
        let written = value.jsonString
        #expect(try JSONValue.parse(written) == value)
        let foundation = try #require(try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any])
        #expect(foundation["a"] as? String == value["a"]?.stringValue)
    }

    @Test(
        "malformed documents are rejected",
        arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "\"\\ud800\"", "tru", "[1] 2", "\"a\u{01}\""])
    func rejects(_ text: String) {
        #expect(throws: (any Error).self) { try JSONValue.parse(text) }
    }

    @Test("nesting deeper than 64 levels is refused")
    func depth() throws {
        #expect(throws: (any Error).self) { try JSONValue.parse(String(repeating: "[", count: 65) + String(repeating: "]", count: 65)) }
        #expect(try JSONValue.parse(String(repeating: "[", count: 60) + String(repeating: "]", count: 60)) != .null)
    }

    @Test("timestamps match ISO8601FormatStyle to the second, with exact milliseconds")
    func timestamps() {
        // Foundation goes through a Double and sometimes prints .998 for .999, so only the
        // seconds are compared with it; the milliseconds are checked by arithmetic.
        let style = Date.ISO8601FormatStyle()
        var generator = SystemRandomNumberGenerator()
        let samples: [Int64] =
            [0, 1, 999, 951_782_400_000, 1_709_251_199_999, 4_102_444_800_000, -1, -86_400_001]
            + (0..<500).map { _ in Int64.random(in: -2_000_000_000_000...5_000_000_000_000, using: &generator) }
        for millis in samples {
            let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
            let text = Timestamp.iso(millis: millis)
            #expect(text.prefix(19) + "Z" == Date(timeIntervalSince1970: Double(seconds)).formatted(style), "\(millis)")
            #expect(text.dropFirst(20) == String(format: "%03dZ", Int(millis - seconds * 1000)), "\(millis)")
        }
        #expect(Timestamp.millis(iso: "2026-03-20T12:00:00Z") == 1_774_008_000_000)
        #expect(Timestamp.millis(iso: "2026-03-20T12:00:00.250+01:00") == 1_774_004_400_250)
    }

    @Test("UUIDv7 ids carry their millisecond, version 7 and variant 10, and increase within one millisecond")
    func uuidV7Layout() throws {
        // Other tests mint ids at the same time from the same generator, which never goes back
        // in time; so the embedded millisecond is at least ours, and close to it.
        let now = Date()
        let nowMillis = UInt64(now.timeIntervalSince1970 * 1000)
        let ids = (0..<2000).map { _ in UUIDv7.generate(now: now) }
        for id in ids {
            let parsed = try #require(UUID(uuidString: id), "\(id)")
            #expect(parsed.uuidString.lowercased() == id)
            let hex = id.replacingOccurrences(of: "-", with: "")
            let millis = try #require(UInt64(hex.prefix(12), radix: 16))
            #expect(millis >= nowMillis && millis < nowMillis + 60_000)
            #expect(hex.dropFirst(12).first == "7")
            #expect("89ab".contains(hex.dropFirst(16).first!))
        }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
    }
}

import Foundation
import OpenAPIRuntime

/// Dates as the API writes them: ISO 8601 in UTC with milliseconds (`2026-01-31T12:00:00.000Z`);
/// reading also accepts them without fractional seconds.
struct ISO8601Transcoder: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    func decode(_ text: String) throws -> Date {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Expected an ISO 8601 date-time, got \(text)"))
    }
}

import Foundation
import Logging

/// One JSON object per line on standard output (`LOG_FORMAT=json`). swift-log ships no JSON
/// handler and none is available here, so this small one is written by hand.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: JSONObject = [
            "time": .string(Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
            "level": .string(event.level.rawValue),
            "logger": .string(label),
            "message": .string(event.message.description),
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
            object[key] = .string(value.description)
        }
        // One write per line, unbuffered: `print` buffers 4 KiB when stdout is a pipe or a file
        // (journald, a log shipper), so lines arrived late and were lost on kill -9.
        FileHandle.standardOutput.write(Data((JSONValue.object(object).jsonString + "\n").utf8))
    }
}

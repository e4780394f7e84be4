import Foundation
import Logging

/// Secrets generated on first start and kept in the data directory (mode 0600).
enum SecretFiles {
    static func loadOrCreate(path: String, logger: Logger, what: String, generate: () -> String) throws -> String {
        if let stored = try? String(contentsOfFile: path, encoding: .utf8), !stored.isEmpty {
            return stored.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let value = generate()
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        guard FileManager.default.createFile(atPath: path, contents: Data(value.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        logger.notice("Generated a new \(what)", metadata: ["file": .string(path)])
        return value
    }
}

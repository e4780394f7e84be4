import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MultipartKit
import NIOCore

/// A product file received from a multipart upload and kept on disk, not yet recorded.
struct ReceivedUpload {
    var fields: [String: String]
    var filename: String?
    var temporaryPath: String?
    var size: Int
    var sha256: String
}

/// Streams a `multipart/form-data` upload to a temporary file under the data directory, hashing and
/// counting it as it arrives, so a 50 MiB archive never sits in memory.
enum MultipartUpload {
    /// Text parts are small; anything larger is refused.
    static let maxFieldBytes = 1024

    static func boundary(of request: Request) throws -> String {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("multipart/form-data") else {
            throw APIError.unsupportedMediaType(expected: "multipart/form-data")
        }
        for parameter in type.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingBlanks() }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                if !value.isEmpty && value.count <= 200 { return value }
            }
        }
        throw APIError.badRequest("multipart/form-data needs a boundary parameter")
    }

    /// Reads the body; the part named `fileField` goes to a file in `directory`.
    static func receive(_ request: Request, fileField: String, directory: String, limit: Int) async throws -> ReceivedUpload {
        let boundary = try boundary(of: request)
        // Room for the text parts and the multipart framing around the file.
        let bodyLimit = limit + 64 * 1024
        if let length = request.headers[.contentLength].flatMap(Int.init), length > bodyLimit {
            throw APIError.payloadTooLarge(limit: limit)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let state = UploadState(
            temporaryPath: (directory as NSString).appendingPathComponent("upload-\(UUIDv7.generate()).part"), fileField: fileField)
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in state.header(name: name, value: value) }
        parser.onBody = { buffer in state.body(&buffer, limit: limit) }
        parser.onPartComplete = { state.partComplete() }
        var received = 0
        do {
            for try await chunk in request.body {
                received += chunk.readableBytes
                if received > bodyLimit { throw APIError.payloadTooLarge(limit: limit) }
                try parser.execute(chunk)
                if let error = state.failure { throw error }
            }
            guard state.finished else { throw APIError.badRequest("The multipart body ended before its closing boundary") }
        } catch {
            state.discard()
            if error is APIError { throw error }
            throw APIError.badRequest("Malformed multipart/form-data body")
        }
        state.closeFile()
        return ReceivedUpload(
            fields: state.fields, filename: state.filename, temporaryPath: state.fileOpened ? state.temporaryPath : nil,
            size: state.fileSize, sha256: Hex.encode(state.hasher.finalize()))
    }
}

/// The parser's callbacks write into this; it lives on one task for one request.
private final class UploadState {
    let temporaryPath: String
    let fileField: String
    var fields: [String: String] = [:]
    var filename: String?
    var fileSize = 0
    var hasher = SHA256()
    var failure: APIError?
    var finished = false
    var fileOpened = false
    private var handle: FileHandle?
    private var partName: String?
    private var partFilename: String?
    private var partBytes: [UInt8] = []
    private var seenFile = false

    init(temporaryPath: String, fileField: String) {
        self.temporaryPath = temporaryPath
        self.fileField = fileField
    }

    func header(name: String, value: String) {
        guard name.lowercased() == "content-disposition" else { return }
        partName = Self.parameter("name", in: value)
        partFilename = Self.parameter("filename", in: value)
    }

    func body(_ buffer: inout ByteBuffer, limit: Int) {
        guard failure == nil else { return }
        if partName == fileField {
            if handle == nil {
                guard !seenFile else {
                    failure = APIError.validation(field: fileField, "Send one file")
                    return
                }
                seenFile = true
                FileManager.default.createFile(atPath: temporaryPath, contents: nil, attributes: [.posixPermissions: 0o600])
                handle = FileHandle(forWritingAtPath: temporaryPath)
                fileOpened = true
                filename = partFilename
            }
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            fileSize += bytes.count
            if fileSize > limit {
                failure = APIError.payloadTooLarge(limit: limit)
                return
            }
            hasher.update(data: bytes)
            handle?.write(Data(bytes))
        } else {
            partBytes += buffer.readBytes(length: buffer.readableBytes) ?? []
            if partBytes.count > MultipartUpload.maxFieldBytes {
                failure = APIError.validation(field: partName ?? "part", "Must be at most \(MultipartUpload.maxFieldBytes) bytes")
            }
        }
    }

    func partComplete() {
        if let name = partName, name != fileField, fields[name] == nil, let text = String(validating: partBytes, as: UTF8.self) {
            fields[name] = text
        }
        if handle != nil {
            try? handle?.close()
            handle = nil
        }
        partBytes = []
        partName = nil
        partFilename = nil
        finished = true
    }

    func closeFile() {
        try? handle?.close()
        handle = nil
    }

    func discard() {
        closeFile()
        if fileOpened { try? FileManager.default.removeItem(atPath: temporaryPath) }
    }

    /// `name="value"` from a Content-Disposition header.
    static func parameter(_ name: String, in header: String) -> String? {
        for part in header.split(separator: ";").dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map { String($0.trimmingBlanks()) }
            guard pair.count == 2, pair[0].lowercased() == name else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// What a handler gets: the request, its context (with the caller), and the query and body already
/// checked against the operation's description.
public struct APIInput: Sendable {
    public let request: Request
    public let context: AppRequestContext
    /// Validated query parameters by name.
    public let query: [String: String]
    /// The validated JSON body, when the operation takes one.
    public let body: JSONValue?
    /// The raw body for text operations (CSV).
    public let text: String?

    /// The authenticated caller (only nil on open operations).
    public var caller: Caller {
        get throws { try context.requireCaller() }
    }

    /// A path parameter by name.
    public func path(_ name: String) -> String {
        context.parameters.get(name) ?? ""
    }

    /// The body as an object (operations with object schemas always have one).
    public var object: JSONObject {
        body?.objectValue ?? JSONObject()
    }

    /// A query parameter parsed as an integer (validated already).
    public func int(_ name: String) -> Int? {
        query[name].flatMap { Int($0) }
    }
}

// MARK: - Responses

extension Response {
    /// A JSON response.
    public static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var buffer = ByteBufferAllocator().buffer(capacity: 1024)
        value.write(into: &buffer)
        return .json(serialized: buffer, status: status, headers: headers)
    }

    /// A JSON response from text already serialised.
    public static func json(serialized buffer: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: buffer))
    }

    /// 201 with a `Location` header.
    public static func created(_ value: JSONValue, location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        return .json(value, status: .created, headers: headers)
    }

    /// 204 with no body.
    public static var noContent: Response { Response(status: .noContent) }
}

extension Response {
    /// The whole body, written out (responses from handlers, which are small and already built).
    public func collectedBody() async throws -> ByteBuffer {
        let collector = BodyCollector()
        try await body.write(collector)
        return collector.buffer.withLock { $0 }
    }

    /// The body parsed as JSON (`.null` when empty, as a 204's).
    public func jsonBody() async throws -> JSONValue {
        let bytes = try await collectedBody()
        return bytes.readableBytes == 0 ? .null : try JSONValue.parse(bytes)
    }
}

/// Collects a response body that is kept (idempotency replays) or read in-process (pages).
private final class BodyCollector: ResponseBodyWriter, Sendable {
    let buffer = Mutex(ByteBuffer())
    func write(_ buffer: ByteBuffer) async throws {
        var incoming = buffer
        self.buffer.withLock { _ = $0.writeBuffer(&incoming) }
    }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

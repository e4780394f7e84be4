import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SQLKit
import Synchronization

/// `Idempotency-Key` on POST: the first response for a (caller, key) pair is kept for 24 hours and
/// replayed for retries with the same request; the same key with another request is a 422, and a
/// retry while the first is still running is a 409. Records live in the database, so every
/// instance of a cluster sees them.
public struct IdempotencyStore: Sendable {
    static let retentionMillis: Int64 = 24 * 3600 * 1000
    /// A claim older than this whose request never finished (the process died) is given up.
    static let abandonedAfterMillis: Int64 = 5 * 60 * 1000
    /// Response headers that belong to the stored result (the rest are per-delivery).
    static let keptHeaders: [HTTPField.Name] = [.contentType, .location, .contentDisposition]

    public enum Claim: Sendable {
        /// First time: run the request, then `complete` or `release`.
        case proceed
        /// Seen before: answer with the stored response.
        case replay(Response)
    }

    let database: any Database
    let clock: WallClock

    public init(database: any Database, clock: WallClock) {
        self.database = database
        self.clock = clock
    }

    /// Checks the header's rule (1–255 visible ASCII characters).
    public static func validate(_ key: String) throws {
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw APIError.badRequest(
                "Invalid Idempotency-Key header",
                details: [FieldIssue(field: "Idempotency-Key", message: "Must be 1 to 255 visible ASCII characters")]
            )
        }
    }

    /// Claims `key` for `owner`, or says how to answer instead.
    public func claim(owner: String, key: String, requestHash: String) async throws -> Claim {
        let now = clock.nowMillis()
        return try await database.transaction { sql in
            if let row = try await sql.raw(
                """
                SELECT request_hash, status, response_headers, response_body, created_at FROM idempotency_records
                WHERE owner = \(bind: owner) AND idempotency_key = \(bind: key)
                """
            ).first() {
                let createdAt = try row.decode(column: "created_at", as: Int64.self)
                let status = try row.decodeNil(column: "status") ? nil : try row.decode(column: "status", as: Int.self)
                let expired = createdAt < now - Self.retentionMillis
                let abandoned = status == nil && createdAt < now - Self.abandonedAfterMillis
                if !expired && !abandoned {
                    guard try row.decode(column: "request_hash", as: String.self) == requestHash else {
                        throw APIError(
                            .unprocessableContent, code: "IDEMPOTENCY_KEY_REUSED",
                            message: "This Idempotency-Key was used with a different request"
                        )
                    }
                    guard let status else {
                        throw APIError.conflict("A request with this Idempotency-Key is still in progress", code: "IDEMPOTENCY_KEY_IN_USE")
                    }
                    let headers = try row.decode(column: "response_headers", as: String.self)
                    let body = try row.decode(column: "response_body", as: String.self)
                    return .replay(Self.replay(status: status, headers: headers, body: body))
                }
                try await sql.raw("DELETE FROM idempotency_records WHERE owner = \(bind: owner) AND idempotency_key = \(bind: key)").run()
            }
            let inserted = try await sql.raw(
                """
                INSERT INTO idempotency_records (owner, idempotency_key, request_hash, created_at)
                VALUES (\(bind: owner), \(bind: key), \(bind: requestHash), \(bind: now))
                ON CONFLICT (owner, idempotency_key) DO NOTHING
                RETURNING owner
                """
            ).first()
            guard inserted != nil else {
                throw APIError.conflict("A request with this Idempotency-Key is still in progress", code: "IDEMPOTENCY_KEY_IN_USE")
            }
            return .proceed
        }
    }

    /// Stores the response of a claimed request and returns an equivalent one to send.
    public func complete(owner: String, key: String, response: Response) async throws -> Response {
        var response = response
        let body = String(buffer: try await response.collectedBody())
        var headers = JSONObject()
        for name in Self.keptHeaders {
            if let value = response.headers[name] { headers[name.canonicalName] = .string(value) }
        }
        let status = Int(response.status.code)
        let storedHeaders = JSONValue.object(headers).jsonString
        try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE idempotency_records SET status = \(bind: status),
                    response_headers = \(bind: storedHeaders), response_body = \(bind: body)
                WHERE owner = \(bind: owner) AND idempotency_key = \(bind: key)
                """
            ).run()
        }
        response.body = ResponseBody(byteBuffer: ByteBuffer(string: body))
        return response
    }

    /// Forgets a claim whose request failed unexpectedly, so a retry can run it again.
    public func release(owner: String, key: String) async {
        _ = try? await database.transaction { sql in
            try await sql.raw(
                "DELETE FROM idempotency_records WHERE owner = \(bind: owner) AND idempotency_key = \(bind: key) AND status IS NULL"
            ).run()
        }
    }

    private static func replay(status: Int, headers: String, body: String) -> Response {
        var fields = HTTPFields()
        if case .object(let stored)? = try? JSONValue.parse(headers) {
            for (name, value) in stored.members {
                if let name = HTTPField.Name(name), let value = value.stringValue { fields[name] = value }
            }
        }
        fields[.idempotentReplayed] = "true"
        return Response(
            status: HTTPResponse.Status(code: status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: body))
        )
    }
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}

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
///
/// A key is claimed in a transaction of its own, then the handler runs in an ambient transaction
/// that also stores its answer (`record`), so the writes and the answer commit together: after a
/// crash a key is either answered (replayed) or holds no committed write (safe to run again). A
/// claim names the claiming process's lease; a claim whose holder's lease ran out is given up.
public struct IdempotencyStore: Sendable {
    static let retentionMillis: Int64 = 24 * 3600 * 1000
    /// Claims written before claims named their holder are given up after this.
    static let abandonedAfterMillis: Int64 = 5 * 60 * 1000
    /// Response headers that belong to the stored result (the rest are per-delivery).
    static let keptHeaders: [HTTPField.Name] = [.contentType, .location, .contentDisposition]

    public enum Claim: Sendable {
        /// First time: run the request, then `record`/`complete` or `release`.
        case proceed
        /// Seen before: answer with the stored response.
        case replay(Response)
    }

    let database: any Database
    let clock: WallClock
    /// The lease this process's claims name.
    let lease: ProcessLease
    /// The claims this process is running now. A claim of this process that is not among them was
    /// left behind (its request ended while the database was unreachable, so neither the answer
    /// nor the release could be written): a retry takes it over instead of waiting for a restart.
    private let running = RunningClaims()

    public init(database: any Database, clock: WallClock, lease: ProcessLease) {
        self.database = database
        self.clock = clock
        self.lease = lease
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

    static func reused() -> APIError {
        APIError(.unprocessableContent, code: "IDEMPOTENCY_KEY_REUSED", message: "This Idempotency-Key was used with a different request")
    }

    static func inUse() -> APIError {
        var error = APIError.conflict("A request with this Idempotency-Key is still in progress", code: "IDEMPOTENCY_KEY_IN_USE")
        error.headers[.retryAfter] = "1"
        return error
    }

    /// Claims `key` for `owner`, or says how to answer instead.
    public func claim(owner: String, key: String, requestHash: String) async throws -> Claim {
        let now = clock.nowMillis()
        let claim = owner + "\n" + key
        let marked = RunningClaims()  // holds `claim` once this call has marked it
        do {
            return try await claimRow(owner: owner, key: key, requestHash: requestHash, now: now, claim: claim, marked: marked)
        } catch {
            // The mark of a claim that did not commit must not outlive it.
            if marked.claims.withLock({ !$0.isEmpty }) { finished(owner: owner, key: key) }
            throw error
        }
    }

    private func claimRow(owner: String, key: String, requestHash: String, now: Int64, claim: String, marked: RunningClaims)
        async throws -> Claim
    {
        let holder = lease.holder
        let running = self.running
        return try await database.transaction { sql in
            if let row = try await sql.raw(
                """
                SELECT r.request_hash, r.status, r.response_headers, r.response_body, r.created_at, r.holder, l.expires_at AS holder_expires
                FROM idempotency_records r LEFT JOIN process_leases l ON l.holder = r.holder
                WHERE r.owner = \(bind: owner) AND r.idempotency_key = \(bind: key)
                """
            ).first() {
                let createdAt = try row.decode(column: "created_at", as: Int64.self)
                let status = try row.decodeNil(column: "status") ? nil : try row.decode(column: "status", as: Int.self)
                let expired = createdAt < now - Self.retentionMillis
                let abandoned: Bool
                if status != nil {
                    abandoned = false
                } else if try row.decodeNil(column: "holder") {
                    abandoned = createdAt < now - Self.abandonedAfterMillis
                } else {
                    let leaseEnd =
                        try row.decodeNil(column: "holder_expires") ? nil : try row.decode(column: "holder_expires", as: Int64.self)
                    // This process knows its own claims: whether its lease renewal is late (a pool
                    // starved under load) says nothing about them. Trusting the lease here let a
                    // second identical request take over a running claim and write twice.
                    if try row.decode(column: "holder", as: String.self) == holder {
                        abandoned = !running.claims.withLock { $0.contains(claim) }
                    } else {
                        abandoned = (leaseEnd ?? 0) < now
                    }
                }
                if !expired && !abandoned {
                    guard try row.decode(column: "request_hash", as: String.self) == requestHash else { throw Self.reused() }
                    guard let status else { throw Self.inUse() }
                    let headers = try row.decode(column: "response_headers", as: String.self)
                    let body = try row.decode(column: "response_body", as: String.self)
                    return .replay(Self.replay(status: status, headers: headers, body: body))
                }
                // Only the row as it was read: between that read and now its request may have
                // been answered (PostgreSQL reads the last committed row without waiting), and
                // deleting the answered row let a second identical request write again.
                let removed = try await sql.raw(
                    """
                    DELETE FROM idempotency_records
                    WHERE owner = \(bind: owner) AND idempotency_key = \(bind: key) AND created_at = \(bind: createdAt)
                      AND status \(unsafeRaw: status == nil ? "IS NULL" : "IS NOT NULL")
                    RETURNING owner
                    """
                ).first()
                // Changed under us: a retry finds the answer, or the new claim.
                guard removed != nil else { throw Self.inUse() }
            }
            let inserted = try await sql.raw(
                """
                INSERT INTO idempotency_records (owner, idempotency_key, request_hash, created_at, holder)
                VALUES (\(bind: owner), \(bind: key), \(bind: requestHash), \(bind: now), \(bind: holder))
                ON CONFLICT (owner, idempotency_key) DO NOTHING
                RETURNING owner
                """
            ).first()
            guard inserted != nil else {
                // Another request claimed the key between the look and the insert (PostgreSQL runs
                // claims side by side; its claim has committed now): the answer it would have got
                // had that row been there first.
                let other = try await sql.raw(
                    "SELECT request_hash FROM idempotency_records WHERE owner = \(bind: owner) AND idempotency_key = \(bind: key)"
                ).first()?.decode(column: "request_hash", as: String.self)
                if let other, other != requestHash { throw Self.reused() }
                throw Self.inUse()
            }
            // Marked before the claim commits, so that no other request of this process can see
            // the row unmarked and take it for one left behind.
            guard running.claims.withLock({ $0.insert(claim).inserted }) else { throw Self.inUse() }
            marked.claims.withLock { _ = $0.insert(claim) }
            return .proceed
        }
    }

    /// The claimed request has ended, answered or not.
    public func finished(owner: String, key: String) {
        _ = running.claims.withLock { $0.remove(owner + "\n" + key) }
    }

    /// Stores the answer of a claimed request on `sql` — the transaction of the handler's writes —
    /// and returns an equivalent response to send. Throws (rolling the transaction back) when the
    /// claim is no longer this process's: it was given up and taken over by a retry.
    public func record(_ sql: any SQLDatabase, owner: String, key: String, response: Response) async throws -> Response {
        let (response, status, headers, body) = try await Self.stored(response)
        let updated = try await sql.raw(
            """
            UPDATE idempotency_records SET status = \(bind: status), response_headers = \(bind: headers), response_body = \(bind: body)
            WHERE owner = \(bind: owner) AND idempotency_key = \(bind: key) AND holder = \(bind: lease.holder) AND status IS NULL
            RETURNING owner
            """
        ).first()
        guard updated != nil else { throw Self.inUse() }
        return response
    }

    /// Stores the answer of a claimed request whose work could not share its transaction (it
    /// called another service), and returns an equivalent response to send.
    public func complete(owner: String, key: String, response: Response) async throws -> Response {
        try await database.transaction { sql in try await record(sql, owner: owner, key: key, response: response) }
    }

    /// Forgets a claim whose request failed unexpectedly, so a retry can run it again.
    public func release(owner: String, key: String) async {
        _ = try? await database.transaction { sql in
            try await sql.raw(
                """
                DELETE FROM idempotency_records
                WHERE owner = \(bind: owner) AND idempotency_key = \(bind: key) AND holder = \(bind: lease.holder) AND status IS NULL
                """
            ).run()
        }
    }

    /// The response with its body collected, and what is stored of it.
    private static func stored(_ response: Response) async throws -> (Response, Int, String, String) {
        var response = response
        let body = String(buffer: try await response.collectedBody())
        var headers = JSONObject()
        for name in keptHeaders {
            if let value = response.headers[name] { headers[name.canonicalName] = .string(value) }
        }
        response.body = ResponseBody(byteBuffer: ByteBuffer(string: body))
        return (response, Int(response.status.code), JSONValue.object(headers).jsonString, body)
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

/// The claims of this process whose requests are still running (shared by copies of the store).
final class RunningClaims: Sendable {
    let claims = Mutex<Set<String>>([])
}

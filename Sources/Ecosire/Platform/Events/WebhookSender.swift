import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1

/// A delivery claimed by a worker, with what its endpoint needs to sign and send it.
struct ClaimedDelivery: Sendable {
    var id: String
    var organizationID: String
    var endpointID: String
    var eventID: String
    var eventType: String
    var payload: String
    /// Attempts made before this one.
    var attempts: Int
    /// The lease this worker holds; an outcome is recorded only while it still does.
    var leaseUntil: Int64
    /// Nil when the endpoint was deleted or disabled since the delivery was queued.
    var endpoint: Endpoint?

    struct Endpoint: Sendable {
        var url: String
        /// The current secret, then the previous one while it is still within its overlap.
        var secrets: [String]
        /// Why it cannot be signed (a secret sealed under another `SECRETS_KEY`): the attempt fails.
        var problem: String?
    }
}

/// What one attempt came to.
struct AttemptOutcome: Sendable {
    var delivery: ClaimedDelivery
    var attemptID: String
    var attemptedAt: Int64
    var durationMillis: Int64
    var responseCode: Int?
    /// The first 1 KiB of the response body.
    var responseBody: String?
    var error: String?
    var retryAfterSeconds: Int64?
    /// The endpoint is gone or disabled: nothing was sent.
    var skipped: Bool

    var succeeded: Bool { responseCode.map { (200..<300).contains($0) } ?? false }
}

/// Sends one attempt: the SSRF guard on the resolved address, the signed POST, the 15-second
/// timeout, and the first 1 KiB of the answer.
struct WebhookSender: Sendable {
    let client: HTTPClient
    let guardian: OutboundURLGuard
    let timeout: TimeAmount
    let licenseSecret: SymmetricKey
    let clock: WallClock

    static let responseExcerptBytes = 1024

    func send(_ delivery: ClaimedDelivery) async -> AttemptOutcome {
        var outcome = AttemptOutcome(
            delivery: delivery, attemptID: UUIDv7.generate(), attemptedAt: clock.nowMillis(), durationMillis: 0, responseCode: nil,
            responseBody: nil, error: nil, retryAfterSeconds: nil, skipped: false)
        guard let endpoint = delivery.endpoint else {
            outcome.skipped = true
            return outcome
        }
        if let problem = endpoint.problem {
            outcome.error = problem
            return outcome
        }
        let started = ContinuousClock.now
        // The whole attempt — resolving, connecting, the answer's head and its body — within the
        // timeout: async-http-client's own deadline ends with the head, and a receiver that then
        // trickles its body must not hold a slot.
        let timeout = self.timeout
        let attempt = outcome
        let answer = await withTaskGroup(of: Answer?.self) { group in
            group.addTask { await post(delivery, to: endpoint, attempt: attempt) }
            group.addTask {
                try? await Task.sleep(for: .nanoseconds(timeout.nanoseconds))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if let answer {
            outcome.responseCode = answer.code
            outcome.responseBody = answer.body.map(Self.storable)
            outcome.error = answer.error.map(Self.storable)
            outcome.retryAfterSeconds = answer.retryAfterSeconds
        } else {
            outcome.error = "Timed out after \(timeout.nanoseconds / 1_000_000_000) s"
        }
        let elapsed = ContinuousClock.now - started
        outcome.durationMillis = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        return outcome
    }

    /// What the receiver answered, or why there is no answer.
    private struct Answer: Sendable {
        var code: Int?
        var body: String?
        var error: String?
        var retryAfterSeconds: Int64?
    }

    /// Text as PostgreSQL's TEXT accepts it (no NUL characters).
    static func storable(_ text: String) -> String {
        text.contains("\0") ? text.replacingOccurrences(of: "\0", with: "\u{FFFD}") : text
    }

    private func post(_ delivery: ClaimedDelivery, to endpoint: ClaimedDelivery.Endpoint, attempt: AttemptOutcome) async -> Answer {
        var answer = Answer()
        let target: OutboundURLGuard.Target
        do {
            target = try await guardian.check(endpoint.url)
        } catch {
            answer.error = "Refused: " + error.message
            return answer
        }
        let body = Array(delivery.payload.utf8)
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        // Plain http connects to the address the guard checked, so a second DNS answer cannot
        // redirect it; https keeps the name, and TLS verification refuses a rebound address.
        if !target.isHTTPS, let address = target.addresses.first {
            var pinned = target.url
            pinned.host = address.contains(":") ? "[\(address)]" : address
            if let url = pinned.string {
                request.url = url
                let host = target.host.contains(":") ? "[\(target.host)]" : target.host
                request.headers.add(name: "Host", value: host + (target.url.port.map { ":\($0)" } ?? ""))
            }
        }
        for (name, value) in WebhookSignatures.headers(
            eventType: delivery.eventType, attemptID: attempt.attemptID, messageID: delivery.eventID,
            timestamp: attempt.attemptedAt / 1000, payload: body, secrets: endpoint.secrets, licenseSecret: licenseSecret)
        {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: timeout)
            answer.code = Int(response.status.code)
            if let retryAfter = response.headers.first(name: "Retry-After") {
                answer.retryAfterSeconds = WebhookRetrySchedule.retryAfterSeconds(retryAfter, now: clock.now())
            }
            var excerpt = [UInt8]()
            for try await chunk in response.body {
                excerpt += chunk.readableBytesView.prefix(Self.responseExcerptBytes - excerpt.count)
                if excerpt.count >= Self.responseExcerptBytes { break }
            }
            answer.body = String(decoding: excerpt, as: UTF8.self)
            if !(200..<300).contains(response.status.code) { answer.error = "HTTP \(response.status.code)" }
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            answer.error = "Timed out after \(timeout.nanoseconds / 1_000_000_000) s"
        } catch {
            answer.error = Self.describe(error)
        }
        return answer
    }

    /// A short, secret-free description of a transport failure.
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "Connection timed out"
            case .remoteConnectionClosed: return "The connection was closed before an answer"
            default: return "HTTP client error: \(error)"
            }
        }
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "Connection refused" }
        return String(text.prefix(300))
    }
}

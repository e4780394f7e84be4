import Foundation
import HTTPTypes
import Hummingbird

/// What runs between authentication and the handler of every operation: scope checks, rate
/// limits and plan quotas (with their headers on every answer), idempotency of POSTs, and API-key
/// usage accounting.
public struct AccessLayer: Sendable {
    public let limiter: any RateLimiter
    public let settings: RateLimitSettings
    public let plans: PlanDirectory
    public let idempotency: IdempotencyStore
    public let usage: APIKeyUsageRecorder
    public let clock: WallClock
    public let clientIP: @Sendable (Request, AppRequestContext) -> String

    public init(
        limiter: any RateLimiter, settings: RateLimitSettings, plans: PlanDirectory, idempotency: IdempotencyStore,
        usage: APIKeyUsageRecorder, clock: WallClock, clientIP: @escaping @Sendable (Request, AppRequestContext) -> String
    ) {
        self.limiter = limiter
        self.settings = settings
        self.plans = plans
        self.idempotency = idempotency
        self.usage = usage
        self.clock = clock
        self.clientIP = clientIP
    }

    /// Counts the request against its class's limit and, for callers, their organization's daily
    /// quota. Returns the decision whose headers to send; throws 429 (`RATE_LIMITED`,
    /// `QUOTA_EXCEEDED`) with them.
    func checkLimits(_ operation: Operation, caller: Caller?, request: Request, context: AppRequestContext) async throws
        -> RateLimitDecision?
    {
        guard settings.enabled, let rateClass = operation.effectiveRateLimit else { return nil }
        let now = Int64(clock.now().timeIntervalSince1970)
        let subject: String =
            switch rateClass.subject {
            case .caller: caller?.limitKey ?? "ip:" + clientIP(request, context)
            // Email limits are counted by the handler, which reads the email from the body; an
            // operation declaring one is counted by address here.
            case .clientIP, .email: "ip:" + clientIP(request, context)
            }
        let decision = try await limiter.hit(
            key: "rate:\(rateClass.name):\(subject)", limit: settings.limit(for: rateClass), window: settings.windowSeconds)
        guard decision.allowed else { throw decision.rejection(now: now, policy: rateClass.name) }
        if let caller, let quota = settings.dailyQuota(plan: try await plans.plan(of: caller.organizationID)) {
            let daily = try await limiter.hit(key: "quota:\(caller.organizationID)", limit: quota, window: 86_400)
            guard daily.allowed else {
                var rejection = daily.rejection(now: now, policy: "daily_quota", message: "The organization's daily API quota is used up")
                rejection.code = "QUOTA_EXCEEDED"
                throw rejection
            }
        }
        return decision
    }

    /// Runs `handler` under the request's `Idempotency-Key`, if it has one (POST only). The handler's
    /// writes and the stored answer commit in one transaction (see `IdempotencyStore`), except for
    /// operations that call other services, whose answer is stored once they return.
    func idempotent(
        _ operation: Operation, request: Request, context: AppRequestContext, caller: Caller?, fingerprint: @autoclosure () -> String,
        handler: @escaping @Sendable () async throws -> Response
    ) async throws -> Response {
        guard request.method == .post, let key = request.headers[.idempotencyKey] else { return try await handler() }
        guard operation.acceptsIdempotencyKey else {
            throw APIError.badRequest(
                operation.returnsSecret
                    ? "Idempotency-Key is not accepted here: the answer carries a secret, which is never stored for replay"
                    : "Idempotency-Key is not accepted here: this operation's body is not stored for replay",
                details: [FieldIssue(field: "Idempotency-Key", message: "Not accepted on this operation")]
            )
        }
        try IdempotencyStore.validate(key)
        let owner = caller?.limitKey ?? "ip:" + clientIP(request, context)
        switch try await idempotency.claim(owner: owner, key: key, requestHash: SecretTokens.sha256Hex(fingerprint())) {
        case .replay(let response):
            return response
        case .proceed:
            defer { idempotency.finished(owner: owner, key: key) }
            let instance = request.uri.path
            let requestID = context.requestID
            let idempotency = self.idempotency
            /// A refusal by the handler is the request's result too, and is replayed as such; a
            /// rate-limit refusal is not (the request did not run, so a retry must run it).
            @Sendable func refusal(_ error: any Error) -> Response? {
                guard let error = error as? APIError, error.status.code < 500, error.status != .tooManyRequests else { return nil }
                return error.render(instance: instance, requestID: requestID)
            }
            do {
                if operation.callsOtherServices {
                    let response: Response
                    do {
                        response = try await handler()
                    } catch {
                        guard let answer = refusal(error) else { throw error }
                        return try await idempotency.complete(owner: owner, key: key, response: answer)
                    }
                    guard response.status.code < 500 else { throw FailedAnswer(response: response) }
                    return try await idempotency.complete(owner: owner, key: key, response: response)
                }
                return try await AmbientTransaction.run(on: idempotency.database) { ambient in
                    let response: Response
                    do {
                        // A savepoint, so that a refusal leaves none of the handler's writes behind.
                        response = try await ambient.savepoint { _ in try await handler() }
                    } catch {
                        guard let answer = refusal(error) else { throw error }
                        return try await idempotency.record(ambient.sql, owner: owner, key: key, response: answer)
                    }
                    guard response.status.code < 500 else { throw FailedAnswer(response: response) }
                    return try await idempotency.record(ambient.sql, owner: owner, key: key, response: response)
                }
            } catch let failed as FailedAnswer {
                await idempotency.release(owner: owner, key: key)
                return failed.response
            } catch {
                await idempotency.release(owner: owner, key: key)
                throw error
            }
        }
    }

    /// A 5xx answered by a handler: nothing it wrote is kept, and the key is released for a retry.
    private struct FailedAnswer: Error {
        let response: Response
    }

    /// Counts a request made with an API key.
    func recordUsage(caller: Caller?, request: Request, context: AppRequestContext, status: Int, started: ContinuousClock.Instant) {
        guard let key = caller?.key else { return }
        let elapsed = ContinuousClock.now - started
        usage.record(
            APIKeyRequest(
                key: key, method: request.method.rawValue, path: request.uri.path, status: status,
                clientIP: clientIP(request, context),
                latencyMillis: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000),
                requestID: context.requestID, at: clock.nowMillis()
            )
        )
    }
}

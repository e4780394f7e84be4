import Crypto
import Foundation

/// The signatures on every webhook delivery, and their verification for the portal's verifier:
/// - `X-Ecosire-Signature: t=<unix>,v1=<hex>`: HMAC-SHA256 keyed with the endpoint secret (the
///   whole `whsec_…` string) over `"<t>.<body>"`, one `v1` per active secret (Stripe's scheme);
/// - Standard Webhooks: `webhook-signature: v1,<base64>` over `"<webhook-id>.<webhook-timestamp>.<body>"`,
///   keyed with the base64-decoded part of the secret after `whsec_`, space-separated per secret;
/// - `X-License-Signature: <hex>` on `license.*` events: HMAC-SHA256 of the body with
///   `ECOSIRE_LICENSE_SECRET`.
public enum WebhookSignatures {
    /// How far a signed timestamp may be from now when verifying.
    public static let tolerance: Int64 = 300

    /// `whsec_` + base64 of 32 random bytes: usable as is by Standard Webhooks libraries.
    public static func newSecret() -> String {
        "whsec_" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// The Standard Webhooks key of a secret: the base64 after `whsec_` (the UTF-8 bytes when it is
    /// not base64, which only hand-made secrets can be).
    static func standardKey(_ secret: String) -> SymmetricKey {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        return SymmetricKey(data: Data(base64Encoded: encoded) ?? Data(encoded.utf8))
    }

    /// `v1,<base64>` per secret, space-separated.
    public static func standardSignature(id: String, timestamp: Int64, payload: [UInt8], secrets: [String]) -> String {
        let message = Array("\(id).\(timestamp).".utf8) + payload
        return secrets.map { secret in
            "v1," + Data(HMAC<SHA256>.authenticationCode(for: message, using: standardKey(secret))).base64EncodedString()
        }.joined(separator: " ")
    }

    /// Hex HMAC-SHA256 of the body with the license secret.
    public static func licenseSignature(payload: [UInt8], licenseSecret: SymmetricKey) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: payload, using: licenseSecret))
    }

    /// Every header of one delivery attempt.
    public static func headers(
        eventType: String, attemptID: String, messageID: String, timestamp: Int64, payload: [UInt8], secrets: [String],
        licenseSecret: SymmetricKey?
    ) -> [(String, String)] {
        var headers = [
            ("Content-Type", "application/json"),
            ("User-Agent", "Ecosire-Webhooks/1"),
            ("X-Ecosire-Event", eventType),
            ("X-Ecosire-Delivery", attemptID),
            ("X-Ecosire-Signature", TimestampedSignature.header(payload: payload, timestamp: timestamp, secrets: secrets)),
            ("webhook-id", messageID),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", standardSignature(id: messageID, timestamp: timestamp, payload: payload, secrets: secrets)),
        ]
        if eventType.hasPrefix("license."), let licenseSecret {
            headers.append(("X-License-Signature", licenseSignature(payload: payload, licenseSecret: licenseSecret)))
        }
        return headers
    }

    // MARK: Verification

    /// The outcome of checking one signature header.
    public struct Check: Sendable {
        public var header: String
        public var valid: Bool
        public var reason: String?

        var json: JSONValue {
            var object: JSONObject = ["header": .string(header), "valid": .bool(valid)]
            object["reason"] = reason.map { .string($0) } ?? .null
            return .object(object)
        }
    }

    /// Checks every signature header present in `headers` (names in any case) against `payload`
    /// and `secret` (an endpoint's `whsec_…`, or the license secret for `X-License-Signature`).
    public static func verify(
        payload: String, headers: [String: String], secret: String, licenseSecret: SymmetricKey? = nil, now: Int64
    ) -> [Check] {
        var lowered: [String: String] = [:]
        for (name, value) in headers { lowered[name.lowercased()] = value.trimmingCharacters(in: .whitespaces) }
        let body = Array(payload.utf8)
        var checks: [Check] = []
        if let header = lowered["x-ecosire-signature"] {
            let reason: String?
            do {
                try TimestampedSignature(secret: secret).verify(payload: body, header: header, now: now)
                reason = nil
            } catch let failure as TimestampedSignature.Failure {
                reason =
                    switch failure {
                    case .missingHeader: "X-Ecosire-Signature is empty"
                    case .malformedHeader: "X-Ecosire-Signature has no t=<unix timestamp>"
                    case .noSignatures: "X-Ecosire-Signature has no v1= signature"
                    case .mismatch: "No v1 signature matches the payload and secret"
                    case .timestampOutOfTolerance: "The signature matches, but t is more than 5 minutes from now"
                    }
            } catch {
                reason = "X-Ecosire-Signature could not be read"
            }
            checks.append(Check(header: "X-Ecosire-Signature", valid: reason == nil, reason: reason))
        }
        if let header = lowered["webhook-signature"] {
            checks.append(
                verifyStandard(
                    body: body, header: header, id: lowered["webhook-id"], timestamp: lowered["webhook-timestamp"], secret: secret, now: now
                ))
        }
        if let header = lowered["x-license-signature"] {
            // The given secret, or this server's ECOSIRE_LICENSE_SECRET (a license delivery is
            // checked with the endpoint secret for the other two headers).
            let keys = [SymmetricKey(data: Data(secret.utf8))] + (licenseSecret.map { [$0] } ?? [])
            let valid = keys.contains {
                SecretTokens.constantTimeEquals(header.lowercased(), licenseSignature(payload: body, licenseSecret: $0))
            }
            checks.append(
                Check(
                    header: "X-License-Signature", valid: valid,
                    reason: valid ? nil : "The HMAC-SHA256 of the payload with this secret (ECOSIRE_LICENSE_SECRET) differs"))
        }
        return checks
    }

    private static func verifyStandard(body: [UInt8], header: String, id: String?, timestamp: String?, secret: String, now: Int64) -> Check
    {
        func failed(_ reason: String) -> Check { Check(header: "webhook-signature", valid: false, reason: reason) }
        guard let id, !id.isEmpty else { return failed("webhook-id is missing") }
        guard let timestamp, let seconds = Int64(timestamp) else { return failed("webhook-timestamp is missing or not Unix seconds") }
        let expected = standardSignature(id: id, timestamp: seconds, payload: body, secrets: [secret])
        let given = header.split(separator: " ").map(String.init).filter { $0.hasPrefix("v1,") }
        guard !given.isEmpty else { return failed("webhook-signature has no v1,<base64> signature") }
        guard given.contains(where: { SecretTokens.constantTimeEquals($0, expected) }) else {
            return failed("No v1 signature matches the webhook-id, webhook-timestamp, payload and secret")
        }
        guard TimestampedSignature.within(tolerance, seconds, of: now) else {
            return failed("The signature matches, but webhook-timestamp is more than 5 minutes from now")
        }
        return Check(header: "webhook-signature", valid: true, reason: nil)
    }
}

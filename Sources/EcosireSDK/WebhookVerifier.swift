import Crypto
import Foundation

/// Checks the signatures of the webhook deliveries an Ecosire server sends, in constant time.
/// Always pass the body exactly as received (bytes), before any JSON parsing.
///
/// ```swift
/// let event = try WebhookVerifier.constructEvent(
///     payload: body, signatureHeader: request.headers["X-Ecosire-Signature"], secret: endpointSecret)
/// print(event.type)
/// ```
public enum WebhookVerifier {
    /// How far a signed timestamp may be from now, by default.
    public static let defaultTolerance: TimeInterval = 300

    /// Verifies `X-Ecosire-Signature: t=<unix>,v1=<hex>[,v1=…]`: HMAC-SHA256 keyed with the
    /// endpoint's whole `whsec_…` secret over `"<t>.<body>"`. Any `v1` may match (there are two while
    /// a rotated secret overlaps the new one).
    public static func verifyEcosireSignature(
        payload: Data, signatureHeader: String?, secret: String, tolerance: TimeInterval = defaultTolerance,
        now: Date = Date()
    ) throws(WebhookVerificationError) {
        guard let header = signatureHeader, !header.isEmpty else { throw .init(.missingHeader, "X-Ecosire-Signature is missing") }
        var timestamp: Int64?
        var signatures: [Data] = []
        for part in header.split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int64(pair[1]) }
            if pair[0] == "v1", let bytes = hexBytes(pair[1]) { signatures.append(bytes) }
        }
        guard let timestamp else { throw .init(.malformedHeader, "X-Ecosire-Signature has no t=<unix seconds>") }
        guard !signatures.isEmpty else { throw .init(.malformedHeader, "X-Ecosire-Signature has no v1=<hex> signature") }
        try checkTolerance(timestamp, tolerance: tolerance, now: now)
        let message = Data("\(timestamp).".utf8) + payload
        let key = SymmetricKey(data: Data(secret.utf8))
        guard signatures.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: message, using: key) }) else {
            throw .init(.noMatchingSignature, "No v1 signature matches this payload and secret")
        }
    }

    /// Verifies a delivery by the Standard Webhooks scheme: `webhook-signature: v1,<base64>` (space
    /// separated, any may match) over `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed with the
    /// base64 part of the `whsec_…` secret.
    public static func verifyStandardWebhook(
        payload: Data, id: String?, timestamp: String?, signature: String?, secret: String,
        tolerance: TimeInterval = defaultTolerance, now: Date = Date()
    ) throws(WebhookVerificationError) {
        guard let id, let timestamp, let signature else {
            throw .init(.missingHeader, "webhook-id, webhook-timestamp and webhook-signature are all required")
        }
        guard let seconds = Int64(timestamp) else { throw .init(.malformedHeader, "webhook-timestamp is not Unix seconds") }
        try checkTolerance(seconds, tolerance: tolerance, now: now)
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let keyBytes = Data(base64Encoded: encoded) else { throw .init(.malformedHeader, "The secret is not whsec_<base64>") }
        let message = Data("\(id).\(timestamp).".utf8) + payload
        let key = SymmetricKey(data: keyBytes)
        let candidates = signature.split(separator: " ").compactMap { entry -> Data? in
            let parts = entry.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1" else { return nil }
            return Data(base64Encoded: String(parts[1]))
        }
        guard !candidates.isEmpty else { throw .init(.malformedHeader, "webhook-signature has no v1,<base64> signature") }
        guard candidates.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: message, using: key) }) else {
            throw .init(.noMatchingSignature, "No v1 signature matches this payload and secret")
        }
    }

    /// Verifies `X-License-Signature: <hex>` of a `license.*` delivery: HMAC-SHA256 of the body with
    /// the server's `ECOSIRE_LICENSE_SECRET` (the secret shared with your licensed software).
    public static func verifyLicenseSignature(
        payload: Data, signatureHeader: String?, licenseSecret: String
    ) throws(WebhookVerificationError) {
        guard let header = signatureHeader, !header.isEmpty else { throw .init(.missingHeader, "X-License-Signature is missing") }
        guard let signature = hexBytes(header.trimmingCharacters(in: .whitespaces)) else {
            throw .init(.malformedHeader, "X-License-Signature is not hex")
        }
        let key = SymmetricKey(data: Data(licenseSecret.utf8))
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: payload, using: key) else {
            throw .init(.noMatchingSignature, "X-License-Signature does not match this payload and secret")
        }
    }

    /// Verifies `X-Ecosire-Signature` and reads the event envelope.
    public static func constructEvent(
        payload: Data, signatureHeader: String?, secret: String, tolerance: TimeInterval = defaultTolerance,
        now: Date = Date()
    ) throws -> WebhookEvent {
        try verifyEcosireSignature(payload: payload, signatureHeader: signatureHeader, secret: secret, tolerance: tolerance, now: now)
        return try WebhookEvent(payload: payload)
    }

    private static func checkTolerance(_ timestamp: Int64, tolerance: TimeInterval, now: Date) throws(WebhookVerificationError) {
        guard abs(now.timeIntervalSince1970 - TimeInterval(timestamp)) <= tolerance else {
            throw .init(.timestampOutOfTolerance, "The signed timestamp is more than \(Int(tolerance)) s from now (a replay?)")
        }
    }

    private static func hexBytes(_ text: String) -> Data? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
        var bytes = Data(capacity: digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why a webhook signature was refused.
public struct WebhookVerificationError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Reason: String, Sendable {
        case missingHeader, malformedHeader, timestampOutOfTolerance, noMatchingSignature
    }

    public let reason: Reason
    public let message: String

    init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}

/// A verified webhook delivery: the envelope `{id, object, type, created, data: {object}}`.
public struct WebhookEvent: Sendable {
    /// `evt_…`, the same on every attempt of one delivery: use it to ignore repeats.
    public let id: String
    /// The event type, such as `license.activated`.
    public let type: String
    /// When the event happened (Unix seconds).
    public let created: Int64
    /// The body as received.
    public let payload: Data

    private struct Envelope: Decodable {
        let id: String
        let type: String
        let created: Int64
    }

    private struct Object<Value: Decodable>: Decodable {
        struct Payload: Decodable { let object: Value }
        let data: Payload
    }

    /// Reads the envelope of `payload`.
    public init(payload: Data) throws {
        let envelope = try JSONDecoder().decode(Envelope.self, from: payload)
        id = envelope.id
        type = envelope.type
        created = envelope.created
        self.payload = payload
    }

    /// `data.object` decoded as `type`, such as `Components.Schemas.Contact` for `contact.created`
    /// (dates as the API writes them).
    public func object<Value: Decodable>(as type: Value.Type) throws -> Value {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            try ISO8601Transcoder().decode(try decoder.singleValueContainer().decode(String.self))
        }
        return try decoder.decode(Object<Value>.self, from: payload).data.object
    }
}

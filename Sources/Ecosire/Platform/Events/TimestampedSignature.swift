import Crypto
import Foundation

/// The `t=<unix>,v1=<hex>[,v1=…]` signature scheme of `Stripe-Signature` (incoming) and
/// `X-Ecosire-Signature` (our deliveries), verified exactly as Stripe's libraries do it:
/// HMAC-SHA256 with the endpoint secret over `"<t>.<raw body>"`, any `v1` may match (secret
/// rolling), compared in constant time, with the timestamp within the tolerance either way.
public struct TimestampedSignature: Sendable {
    public let secret: String
    public let tolerance: Int64

    public init(secret: String, tolerance: Int64 = 300) {
        self.secret = secret
        self.tolerance = tolerance
    }

    public enum Failure: Error, Equatable {
        case missingHeader, malformedHeader, noSignatures, timestampOutOfTolerance, mismatch
    }

    /// Throws unless `header` signs `payload` at `now` (Unix seconds).
    public func verify(payload: [UInt8], header: String?, now: Int64) throws {
        guard let header, !header.isEmpty else { throw Failure.missingHeader }
        var timestamp: Int64?
        var signatures: [String] = []
        for item in header.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = Int64(pair[1])
            case "v1": signatures.append(pair[1].lowercased())
            default: continue  // v0 and future schemes are ignored, as Stripe's libraries do
            }
        }
        guard let timestamp else { throw Failure.malformedHeader }
        guard !signatures.isEmpty else { throw Failure.noSignatures }
        let expected = Self.sign(payload: payload, timestamp: timestamp, secret: secret)
        guard signatures.contains(where: { SecretTokens.constantTimeEquals($0, expected) }) else { throw Failure.mismatch }
        guard Self.within(tolerance, timestamp, of: now) else { throw Failure.timestampOutOfTolerance }
    }

    /// Whether `timestamp` is at most `tolerance` seconds from `now`; a difference too large for
    /// Int64 (a hostile `t=-9223372036854775808`) is not.
    static func within(_ tolerance: Int64, _ timestamp: Int64, of now: Int64) -> Bool {
        let (difference, overflow) = now.subtractingReportingOverflow(timestamp)
        return !overflow && difference.magnitude <= tolerance.magnitude
    }

    /// The header value: `t=<timestamp>` and one `v1` per secret.
    public static func header(payload: [UInt8], timestamp: Int64, secrets: [String]) -> String {
        (["t=\(timestamp)"] + secrets.map { "v1=" + sign(payload: payload, timestamp: timestamp, secret: $0) }).joined(separator: ",")
    }

    /// Hex HMAC-SHA256 over `"<t>.<payload>"`.
    public static func sign(payload: [UInt8], timestamp: Int64, secret: String) -> String {
        var message = Array("\(timestamp).".utf8)
        message += payload
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8))))
    }
}

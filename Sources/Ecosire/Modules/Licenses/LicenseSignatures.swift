import Crypto
import CryptoExtras
import Foundation
import HTTPTypes
import Logging

/// The license guide's signatures: requests signed by installed software with the shared
/// `ECOSIRE_LICENSE_SECRET`, and answers signed by the server with the same secret (HMAC) and with
/// an Ed25519 key whose public half is published for offline checks.
public struct LicenseSignatures: Sendable {
    let secret: SymmetricKey
    let signingKey: Curve25519.Signing.PrivateKey
    /// Short id of the Ed25519 key (first 8 bytes of the SHA-256 of the raw public key, hex).
    public let keyID: String
    let required: Bool
    let clock: WallClock
    /// Ed25519 signatures are deterministic, and validate answers repeat, so signatures of recent
    /// bodies are kept instead of recomputed.
    private let signatureCache = ExpiringCache<String>(ttlMillis: 3_600_000)

    /// How far a request's `timestamp` may be from the server's clock.
    static let tolerance: Int64 = 300

    init(secret: String, signingKey: Curve25519.Signing.PrivateKey, required: Bool, clock: WallClock) {
        self.secret = SymmetricKey(data: Data(secret.utf8))
        self.signingKey = signingKey
        self.keyID = Hex.encode(SHA256.hash(data: signingKey.publicKey.rawRepresentation).prefix(8))
        self.required = required
        self.clock = clock
    }

    /// The secret and key from configuration, or from (generated on first start) files in the data directory.
    static func load(_ config: AppConfiguration, clock: WallClock, logger: Logger) throws -> LicenseSignatures {
        let directory = config.dataDirectory
        let secret =
            try config.licenseSecret
            ?? SecretFiles.loadOrCreate(
                path: (directory as NSString).appendingPathComponent("license-secret"), logger: logger,
                what: "license signing secret (set ECOSIRE_LICENSE_SECRET to share it with your software)"
            ) { SecretTokens.base62(count: 48) }
        let pem =
            try config.licenseSigningKey?.replacingOccurrences(of: "\\n", with: "\n")
            ?? SecretFiles.loadOrCreate(
                path: (directory as NSString).appendingPathComponent("license-ed25519.pem"), logger: logger,
                what: "license response signing key"
            ) { Curve25519.Signing.PrivateKey().pemRepresentation }
        return LicenseSignatures(
            secret: secret, signingKey: try Curve25519.Signing.PrivateKey(pemRepresentation: pem),
            required: config.licenseSignatureRequired, clock: clock)
    }

    /// `domain=mysite.com&key=SHOP-…&timestamp=1710000000`: the body's members sorted by name.
    static func canonical(_ body: JSONObject) -> String {
        body.members.sorted { $0.key < $1.key }.map { member in
            let value: String =
                switch member.value {
                case .string(let string): string
                case .int(let number): String(number)
                case .bool(let flag): flag ? "true" : "false"
                case .null: ""
                default: member.value.jsonString
                }
            return member.key + "=" + value
        }.joined(separator: "&")
    }

    /// Hex HMAC-SHA256 with the license secret.
    func hmacHex(_ message: some DataProtocol) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: message, using: secret))
    }

    /// Checks `X-Ecosire-Signature` of a request body: optional unless configured as required;
    /// when present it must match and its `timestamp` must be within five minutes.
    func verifyRequest(_ body: JSONObject, signature: String?) throws {
        guard let signature, !signature.isEmpty else {
            if required { throw Self.invalid("X-Ecosire-Signature is required") }
            return
        }
        guard let timestamp = Self.seconds(body["timestamp"]) else {
            throw Self.invalid("A signed request must include timestamp (Unix seconds)")
        }
        let now = Int64(clock.now().timeIntervalSince1970)
        guard abs(now - timestamp) <= Self.tolerance else {
            throw Self.invalid("The signature's timestamp is more than 5 minutes from the server's time")
        }
        let expected = hmacHex(Data(Self.canonical(body).utf8))
        guard SecretTokens.constantTimeEquals(expected, signature.lowercased()) else {
            throw Self.invalid("Signature does not match")
        }
    }

    /// The largest `timestamp` accepted (eleven digits: far beyond any real clock, short of overflow).
    static let maximumTimestamp: Int64 = 99_999_999_999

    /// A request's `timestamp` in seconds: an integer, or a string of digits as the guide's client
    /// sends it (the schema has already refused anything else).
    static func seconds(_ value: JSONValue?) -> Int64? {
        switch value {
        case .string(let digits)?:
            guard !digits.isEmpty, digits.utf8.count <= 11, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return Int64(digits)
        case let value?: return value.intValue
        case nil: return nil
        }
    }

    static func invalid(_ message: String) -> APIError {
        APIError(.unauthorized, code: "INVALID_SIGNATURE", message: message)
    }

    /// The headers that sign an answer body: HMAC (hex) and Ed25519 (base64).
    func responseHeaders(for body: String) throws -> [(String, String)] {
        let ed25519: String
        let now = clock.nowMillis()
        if let cached = signatureCache.value(for: body, now: now) {
            ed25519 = cached
        } else {
            ed25519 = try signingKey.signature(for: Data(body.utf8)).base64EncodedString()
            signatureCache.store(ed25519, for: body, now: now)
        }
        return [
            ("X-Ecosire-Signature", hmacHex(Data(body.utf8))), ("X-Ecosire-Signature-Ed25519", ed25519),
            ("X-Ecosire-Key-Id", keyID),
        ]
    }

    /// The published verification key.
    var publicKey: JSONValue {
        .object([
            "algorithm": "Ed25519", "keyId": .string(keyID),
            "publicKey": .string(signingKey.publicKey.rawRepresentation.base64EncodedString()),
            "publicKeyPem": .string(signingKey.publicKey.pemRepresentation),
            "signedHeaders": ["X-Ecosire-Signature-Ed25519", "X-Ecosire-Signature"],
        ])
    }
}

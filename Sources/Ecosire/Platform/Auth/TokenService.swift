import Crypto
import CryptoExtras
import Foundation
import JWTKit
import Logging
import Synchronization

/// The claims of an access token.
public struct AccessTokenClaims: JWTPayload {
    public var sub: SubjectClaim
    public var org: String
    public var role: String
    public var sid: String
    public var iss: IssuerClaim
    public var iat: IssuedAtClaim
    public var exp: ExpirationClaim

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard iss.value == TokenService.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "issuer") }
    }
}

/// Signs and verifies access tokens (EdDSA / Ed25519 with a `kid`) and publishes the JWKS.
public struct TokenService: Sendable {
    static let issuer = "ecosire"
    public let keys: JWTKeyCollection
    public let keyID: String
    public let publicKeyRaw: Data
    /// Access-token lifetime.
    public let lifetime: TimeInterval

    /// Loads the key from PEM, or from `keyFile`, or generates one and writes it to `keyFile` (0600).
    public static func load(pem: String?, keyFile: String, lifetime: TimeInterval, logger: Logger) async throws -> TokenService {
        let privateKey: Curve25519.Signing.PrivateKey
        if let pem, !pem.isEmpty {
            privateKey = try Curve25519.Signing.PrivateKey(pemRepresentation: pem.replacingOccurrences(of: "\\n", with: "\n"))
        } else if let stored = try? String(contentsOfFile: keyFile, encoding: .utf8) {
            privateKey = try Curve25519.Signing.PrivateKey(pemRepresentation: stored)
        } else {
            privateKey = Curve25519.Signing.PrivateKey()
            let directory = (keyFile as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            FileManager.default.createFile(
                atPath: keyFile, contents: Data(privateKey.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]
            )
            logger.notice("Generated a new token signing key", metadata: ["file": .string(keyFile)])
        }
        let publicRaw = privateKey.publicKey.rawRepresentation
        let kid = Hex.encode(SHA256.hash(data: publicRaw).prefix(8))
        let keys = JWTKeyCollection()
        await keys.add(eddsa: EdDSA.PrivateKey(backing: privateKey), kid: JWKIdentifier(string: kid))
        return TokenService(keys: keys, keyID: kid, publicKeyRaw: publicRaw, lifetime: lifetime)
    }

    /// A signed access token for a session.
    public func issue(userID: String, organizationID: String, role: Role, sessionID: String, now: Date) async throws -> String {
        let claims = AccessTokenClaims(
            sub: .init(value: userID), org: organizationID, role: role.rawValue, sid: sessionID,
            iss: .init(value: Self.issuer), iat: .init(value: now), exp: .init(value: now.addingTimeInterval(lifetime))
        )
        return try await keys.sign(claims, kid: JWKIdentifier(string: keyID))
    }

    /// Tokens whose signature was already checked, so each is verified once, not per request.
    let verified = VerifiedTokenCache()

    /// The verified claims, or nil for any invalid, expired or foreign token.
    public func verify(_ token: String, now: Date = Date()) async -> AccessTokenClaims? {
        if let claims = verified.claims(for: token), claims.exp.value > now { return claims }
        guard let claims = try? await keys.verify(token, as: AccessTokenClaims.self) else { return nil }
        verified.store(claims, for: token)
        return claims
    }

    /// `/.well-known/jwks.json`.
    public var jwks: JSONValue {
        let x = publicKeyRaw.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return .object([
            "keys": .array([
                .object([
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": .string(keyID), "x": .string(x),
                ])
            ])
        ])
    }
}

/// A bounded map from token text to its verified claims. Holding a token's exact text is what
/// authenticates with it, so a hit proves nothing an attacker does not already have; expiry is
/// still checked on every use.
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[String: AccessTokenClaims]>([:])
    private let capacity = 10_000

    func claims(for token: String) -> AccessTokenClaims? {
        entries.withLock { $0[token] }
    }

    func store(_ claims: AccessTokenClaims, for token: String) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = claims
        }
    }
}

import Crypto
import Foundation
import Logging

/// Encrypts secrets the server must be able to read again (webhook signing secrets sign every
/// delivery, so they cannot be stored as hashes): AES-256-GCM with a key from `SECRETS_KEY` or a
/// file generated in the data directory, so a copy of the database alone does not reveal them.
/// Several instances on one database must share the key.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// The key from configuration (base64 of 32 bytes), or from `$DATA_DIR/secrets-key`.
    static func load(_ config: AppConfiguration, logger: Logger) throws -> SecretBox {
        let encoded =
            try config.secretsKey
            ?? SecretFiles.loadOrCreate(
                path: (config.dataDirectory as NSString).appendingPathComponent("secrets-key"), logger: logger,
                what: "key that encrypts stored webhook secrets (set SECRETS_KEY to share it between instances)"
            ) { SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() } }
        guard let data = Data(base64Encoded: encoded), data.count == 32 else {
            throw ConfigurationError("SECRETS_KEY must be the base64 encoding of 32 bytes")
        }
        return SecretBox(key: SymmetricKey(data: data))
    }

    /// A key for one purpose (signing unsubscribe links, say), derived with HKDF so that no two
    /// uses share key material.
    public func derivedKey(for purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data(purpose.utf8), outputByteCount: 32)
    }

    /// Base64 of nonce + ciphertext + tag.
    public func seal(_ secret: String) throws -> String {
        try AES.GCM.seal(Data(secret.utf8), using: key).combined!.base64EncodedString()
    }

    /// The secret sealed by `seal`; throws when the text was sealed with another key or altered.
    public func open(_ sealed: String) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw ConfigurationError("A stored secret is not base64") }
        let plain = try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: key)
        return String(decoding: plain, as: UTF8.self)
    }
}

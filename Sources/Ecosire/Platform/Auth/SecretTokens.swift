import Crypto
import Foundation

/// Random secrets and their stored fingerprints.
public enum SecretTokens {
    private static let base62 = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    /// `count` base62 characters from the system CSPRNG (rejection sampling keeps them uniform).
    public static func base62(count: Int) -> String {
        var random = SystemRandomNumberGenerator()
        var result = ""
        result.reserveCapacity(count)
        while result.count < count {
            let byte = UInt8.random(in: 0...255, using: &random)
            if byte < 248 { result.append(base62[Int(byte % 62)]) }
        }
        return result
    }

    /// Lowercase hex SHA-256, the only form in which secrets are stored.
    public static func sha256Hex(_ value: String) -> String {
        var value = value
        return value.withUTF8 { Hex.encode(SHA256.hash(data: UnsafeRawBufferPointer($0))) }
    }

    /// Constant-time comparison of two strings of the same length.
    public static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}

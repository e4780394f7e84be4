import Foundation
import NIOPosix

#if canImport(Glibc)
    import Glibc
    // With NIOSSL in the build, the socket address types resolve to SwiftNIO's Linux shim module.
    #if canImport(CNIOLinux)
        import CNIOLinux
    #endif
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps server-side requests to user-given URLs (webhook deliveries) away from the server's own
/// network: the URL must be http(s) without credentials, and every address its host resolves to
/// must be a public one. Checked when the URL is saved and again before every delivery, against
/// DNS rebinding; plain-http deliveries then connect to the address that was checked.
public struct OutboundURLGuard: Sendable {
    /// `WEBHOOK_ALLOW_PRIVATE_URLS`: development and tests deliver to loopback.
    public let allowPrivate: Bool

    public init(allowPrivate: Bool) { self.allowPrivate = allowPrivate }

    /// A URL that passed the guard.
    public struct Target: Sendable {
        public var url: URLComponents
        public var host: String
        /// The checked addresses (empty when private addresses are allowed: nothing was resolved).
        public var addresses: [String]
        public var isHTTPS: Bool { url.scheme?.lowercased() == "https" }
    }

    /// Why a URL was refused, as a message for the `url` field.
    public struct Refusal: Error, Sendable {
        public var message: String
    }

    /// The target of `text`, or the reason it is refused. Resolves the host unless private
    /// addresses are allowed.
    public func check(_ text: String) async throws(Refusal) -> Target {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw Refusal(message: "Must be an http or https URL")
        }
        guard let rawHost = url.host, !rawHost.isEmpty else { throw Refusal(message: "Must name a host") }
        guard url.user == nil, url.password == nil else {
            throw Refusal(message: "Must not contain credentials; deliveries are authenticated by their signature")
        }
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        if allowPrivate { return Target(url: url, host: host, addresses: []) }
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            addresses = await Self.resolve(host)
            guard !addresses.isEmpty else { throw Refusal(message: "The host \(host) could not be resolved") }
        }
        if let blocked = addresses.first(where: { !$0.isPublic }) {
            throw Refusal(message: "Must not point to a private, loopback or link-local address (\(host) is \(blocked))")
        }
        return Target(url: url, host: host, addresses: addresses.map(\.description))
    }

    /// Every address `host` resolves to (getaddrinfo on NIO's blocking-work pool).
    static func resolve(_ host: String) async -> [IPAddress] {
        (try? await NIOThreadPool.singleton.runIfActive { () -> [IPAddress] in
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            #if canImport(Glibc)
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            #else
                hints.ai_socktype = SOCK_STREAM
            #endif
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
            defer { freeaddrinfo(list) }
            var result: [IPAddress] = []
            var node: UnsafeMutablePointer<addrinfo>? = first
            while let current = node {
                if let address = current.pointee.ai_addr {
                    if current.pointee.ai_family == AF_INET {
                        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                            var raw = pointer.pointee.sin_addr
                            result.append(IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }))
                        }
                    } else if current.pointee.ai_family == AF_INET6 {
                        address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                            var raw = pointer.pointee.sin6_addr
                            result.append(IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }))
                        }
                    }
                }
                node = current.pointee.ai_next
            }
            return result
        }) ?? []
    }
}

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address.
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// Parses a dotted IPv4 or an IPv6 literal.
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var copy = bytes
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard inet_ntop(family, &copy, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True for globally routable unicast addresses; false for loopback, private, link-local,
    /// carrier-grade NAT, documentation, benchmarking, multicast, reserved and unspecified ones,
    /// including IPv4 addresses embedded in IPv6 (mapped, compatible, NAT64).
    public var isPublic: Bool {
        if bytes.count == 4 { return Self.isPublicV4(bytes) }
        let b = bytes
        // ::ffff:a.b.c.d
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return Self.isPublicV4(Array(b[12..<16])) }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return false }  // ::, ::1 and IPv4-compatible
        if b[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] { return Self.isPublicV4(Array(b[12..<16])) }  // NAT64
        if b[0] == 0x20 && b[1] == 0x02 { return Self.isPublicV4(Array(b[2..<6])) }  // 6to4 2002:a.b.c.d::/48
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0 { return false }  // Teredo 2001::/32
        if b[0..<6] == [0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01] { return false }  // local NAT64 64:ff9b:1::/48
        if b[0] & 0xFE == 0xFC { return false }  // fc00::/7 unique local
        if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return false }  // fe80::/10 link-local
        if b[0] == 0xFE && b[1] & 0xC0 == 0xC0 { return false }  // fec0::/10 site-local
        if b[0] == 0xFF { return false }  // multicast
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return false }  // 2001:db8::/32 documentation
        return true
    }

    private static func isPublicV4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1], b[2]) {
        case (0, _, _), (10, _, _), (127, _, _): return false
        case (100, 64...127, _): return false  // carrier-grade NAT
        case (169, 254, _): return false  // link-local, cloud metadata
        case (172, 16...31, _): return false
        case (192, 168, _): return false
        case (192, 0, 0), (192, 0, 2), (198, 51, 100), (203, 0, 113): return false  // IETF, documentation
        case (198, 18...19, _): return false  // benchmarking
        case (224...255, _, _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }
}

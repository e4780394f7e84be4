import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Why a delivery failed: `transient` (a 4xx reply, a dropped connection, a timeout) is retried,
/// `permanent` (a 5xx reply, a refused configuration) is not.
public enum SMTPFailure: Error, CustomStringConvertible {
    case transient(String)
    case permanent(String)

    public var description: String {
        switch self {
        case .transient(let text), .permanent(let text): text
        }
    }
}

/// A minimal SMTP client (RFC 5321) on SwiftNIO: EHLO, STARTTLS or implicit TLS, AUTH PLAIN or
/// LOGIN, one message per connection. Written here because none of the available packages speaks
/// SMTP.
public struct SMTPClient: Sendable {
    public let endpoint: SMTPEndpoint
    public let timeout: Duration
    /// The name we greet with.
    public let heloName: String

    public init(endpoint: SMTPEndpoint, timeout: Duration, heloName: String = "ecosire.localhost") {
        self.endpoint = endpoint
        self.timeout = timeout
        self.heloName = heloName
    }

    /// Sends `message`; returns the server's answer to the message data (its queue id, usually).
    /// The whole conversation, connecting included, is bounded by `timeout`.
    public func send(_ message: EmailMessage) async throws -> String {
        let channel = try await connect()
        return try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask { try await self.converse(channel, message: message) }
            group.addTask {
                try await Task.sleep(for: self.timeout)
                channel.channel.close(promise: nil)
                throw SMTPFailure.transient("The SMTP conversation took longer than \(self.timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func connect() async throws -> NIOAsyncChannel<String, ByteBuffer> {
        let tls: NIOSSLContext? = endpoint.security == .implicitTLS ? try Self.tlsContext() : nil
        let host = endpoint.host
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(Int64(timeout.components.seconds)))
                .connect(host: host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: tls, serverHostname: Self.sniName(host)))
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPLineDecoder()))
                        return try NIOAsyncChannel<String, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SMTPFailure.transient("Could not connect to \(host):\(endpoint.port): \(error)")
        }
    }

    static func tlsContext() throws -> NIOSSLContext {
        try NIOSSLContext(configuration: .makeClientConfiguration())
    }

    /// SNI takes host names only.
    static func sniName(_ host: String) -> String? {
        host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
    }

    private func converse(_ channel: NIOAsyncChannel<String, ByteBuffer>, message: EmailMessage) async throws -> String {
        try await channel.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            var secure = endpoint.security == .implicitTLS

            func reply() async throws -> (code: Int, text: String) {
                var texts: [String] = []
                while true {
                    guard let line = try await lines.next() else {
                        throw SMTPFailure.transient("The SMTP server closed the connection")
                    }
                    let bytes = Array(line.utf8)
                    guard bytes.count >= 3, let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)) else {
                        throw SMTPFailure.transient("Malformed SMTP reply: \(line.prefix(200))")
                    }
                    texts.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
                    if bytes.count == 3 || bytes[3] != UInt8(ascii: "-") { return (code, texts.joined(separator: "\n")) }
                }
            }
            // Until MAIL FROM, a refusal is about our configuration or the server (a rotated
            // password, TLS), not the message: retried, so fixing SMTP_URL lets the queue drain.
            var aboutMessage = false
            func expect(_ answer: (code: Int, text: String), _ accepted: Set<Int>, after step: String) throws {
                guard !accepted.contains(answer.code) else { return }
                let text = "\(step): \(answer.code) \(answer.text.prefix(300))"
                throw answer.code >= 500 && aboutMessage ? SMTPFailure.permanent(text) : SMTPFailure.transient(text)
            }
            func command(_ text: String, _ accepted: Set<Int>, step: String) async throws -> (code: Int, text: String) {
                try await outbound.write(ByteBuffer(string: text + "\r\n"))
                let answer = try await reply()
                try expect(answer, accepted, after: step)
                return answer
            }

            try expect(try await reply(), [220], after: "greeting")
            var extensions = try await command("EHLO " + heloName, [250], step: "EHLO").text.uppercased()
            if case .startTLS(let required) = endpoint.security {
                if Self.offers("STARTTLS", in: extensions) {
                    _ = try await command("STARTTLS", [220], step: "STARTTLS")
                    let context = try Self.tlsContext()
                    let sni = Self.sniName(endpoint.host)
                    let pipeline = channel.channel.pipeline
                    try await channel.channel.eventLoop.submit {
                        try pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: sni), position: .first)
                    }.get()
                    secure = true
                    extensions = try await command("EHLO " + heloName, [250], step: "EHLO").text.uppercased()
                } else if required {
                    throw SMTPFailure.transient("The SMTP server does not offer STARTTLS and SMTP_URL requires it")
                }
            }
            if let username = endpoint.username {
                guard secure || endpoint.isLoopback else {
                    throw SMTPFailure.transient("Refusing to send SMTP credentials over an unencrypted connection")
                }
                let password = endpoint.password ?? ""
                let mechanisms = extensions.split(separator: "\n").dropFirst().first { $0.hasPrefix("AUTH") } ?? ""
                if mechanisms.contains("PLAIN") || !mechanisms.contains("LOGIN") {
                    let token = Data(("\0" + username + "\0" + password).utf8).base64EncodedString()
                    _ = try await command("AUTH PLAIN " + token, [235], step: "AUTH PLAIN")
                } else {
                    _ = try await command("AUTH LOGIN", [334], step: "AUTH LOGIN")
                    _ = try await command(Data(username.utf8).base64EncodedString(), [334], step: "AUTH LOGIN")
                    _ = try await command(Data(password.utf8).base64EncodedString(), [235], step: "AUTH LOGIN")
                }
            }
            aboutMessage = true
            _ = try await command("MAIL FROM:<\(Self.envelope(message.from.address))>", [250], step: "MAIL FROM")
            _ = try await command("RCPT TO:<\(Self.envelope(message.to.address))>", [250, 251], step: "RCPT TO")
            _ = try await command("DATA", [354], step: "DATA")
            try await outbound.write(ByteBuffer(string: message.rendered() + ".\r\n"))
            let accepted = try await reply()
            try expect(accepted, [250], after: "message data")
            _ = try? await command("QUIT", [221], step: "QUIT")
            return "\(accepted.code) \(accepted.text.prefix(300))"
        }
    }

    /// Whether the EHLO answer lists `keyword` (its first line is the server's greeting, not an extension).
    static func offers(_ keyword: String, in extensions: String) -> Bool {
        extensions.split(separator: "\n").dropFirst().contains { $0 == keyword || $0.hasPrefix(keyword + " ") }
    }

    /// An address as it may appear inside `<…>` of MAIL FROM and RCPT TO.
    static func envelope(_ address: String) -> String {
        String(address.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F && $0 != "<" && $0 != ">" }.map(Character.init))
    }
}

/// Splits the server's bytes into reply lines (CRLF or LF), at most 4 KiB each.
struct SMTPLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = String

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 4096 { throw SMTPFailure.transient("An SMTP reply line is longer than 4 KiB") }
            return .needMoreData
        }
        var line = buffer.readString(length: newline - buffer.readerIndex) ?? ""
        buffer.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers a request whose head cannot be parsed (a path or header over the limit, broken framing)
/// with the same problem+json 400 and headers as every other error, then closes the connection.
/// Hummingbird would answer such a request with a bare 400 that has neither.
///
/// A parse error inside a request's body reaches the handler reading that body instead (it becomes
/// a 400 problem in `ProblemMiddleware`); one after the response to that request was written only
/// closes the connection, since a second answer would be read as the answer to a later request.
final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// Between requests: the next bytes are a new head.
        case idle
        /// A head was passed on; its body is still arriving. `answered` once its response ended.
        case receiving(answered: Bool)
    }

    private var state = State.idle
    private var closing = false
    private let tls: Bool

    init(tls: Bool) { self.tls = tls }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: state = .receiving(answered: false)
        case .end: state = .idle
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), case .receiving = state { state = .receiving(answered: true) }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else { return context.fireErrorCaught(error) }
        switch state {
        case .receiving(answered: false):
            context.fireErrorCaught(error)
        case .receiving(answered: true):
            closeOnce(context)
        case .idle:
            guard !closing else { return }
            closing = true
            let requestID = RequestMiddleware.newRequestID()
            var body = ByteBufferAllocator().buffer(capacity: 512)
            APIError.badRequest("Malformed HTTP request: \(Self.reason(error))").body(instance: "", requestID: requestID).write(into: &body)
            var headers = HTTPFields()
            headers[.contentType] = "application/problem+json"
            headers[.contentLength] = String(body.readableBytes)
            headers[.connection] = "close"
            RequestMiddleware.addStandardHeaders(to: &headers, requestID: requestID, tls: tls)
            context.write(wrapOutboundOut(.head(HTTPResponse(status: .badRequest, headerFields: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func closeOnce(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        context.close(promise: nil)
    }

    /// Words for the client; NIO's names (`headerOverflow`) are not meant for them.
    static func reason(_ error: any Error) -> String {
        switch error as? HTTPParserError {
        case .headerOverflow?: "the request line or headers are too large"
        case .invalidChunkSize?, .invalidEOFState?: "the chunked body is malformed"
        case .unexpectedContentLength?, .invalidContentLength?: "Transfer-Encoding and Content-Length do not frame the body"
        case .invalidURL?, .invalidPath?, .invalidQueryString?: "the request target is not a valid path"
        default: "the request could not be parsed"
        }
    }
}

import Hummingbird
import Logging
import NIOCore

/// The request context every route sees: Hummingbird's core storage plus the request id, the peer
/// address and, once authentication has run, the caller.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request id echoed in `X-Request-Id` and in every problem document.
    public var requestID: String
    /// The TCP peer of the connection.
    public let remoteAddress: SocketAddress?
    /// The authenticated caller; nil on public routes.
    public var caller: Caller?
    /// The operation's own rate limit as counted for this request, for handlers that count more.
    public var rateLimit: RateLimitDecision?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.remoteAddress = source.channel.remoteAddress
        self.caller = nil
        self.rateLimit = nil
    }

    /// Request bodies are read by the API layer with its own limits; this only caps what
    /// Hummingbird's own helpers would read.
    public var maxUploadSize: Int { 1 << 20 }

    /// The caller, or a 401 when the route forgot to require authentication.
    public func requireCaller() throws -> Caller {
        guard let caller else { throw APIError.unauthorized() }
        return caller
    }
}

import Foundation
import NIOCore
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// The Ecosire API client.
///
/// ```swift
/// let client = EcosireClient(baseURL: URL(string: "https://api.example.com")!, apiKey: "ecos_live_…")
/// let contacts = try await client.contacts.list(query: .init(limit: 50))
/// ```
///
/// Every module of the API is a namespace (`client.contacts`, `client.apiKeys`, `client.licenses`…)
/// generated from the API document, and every call:
/// - authenticates with the session's access token after ``AuthAPI/login(email:password:)``, else
///   with the API key, and refreshes an expired session once;
/// - retries 429s, and 5xx answers and connection failures when repeating is safe, waiting for
///   `Retry-After` or backing off with jitter (``RetryPolicy``), adding an `Idempotency-Key` to POSTs
///   that accept one;
/// - throws ``EcosireError`` (status, `code`, message, field `details`) for every failure.
///
/// One client is safe to share between tasks.
public final class EcosireClient: Sendable {
    let core: ClientCore

    /// Creates a client.
    /// - Parameters:
    ///   - baseURL: The server, such as `https://api.example.com` (a trailing `/api` is accepted too).
    ///   - apiKey: An API key (`ecos_live_…` or `ecos_test_…`), sent unless a session is active.
    ///   - accessToken: An access token obtained elsewhere.
    ///   - retryPolicy: How failed requests are retried.
    ///   - timeout: How long one attempt may take, connecting included (AsyncHTTPClient keeps
    ///     retrying a refused connection until then).
    ///   - transport: The HTTP transport; AsyncHTTPClient's shared client by default (then
    ///     `timeout` applies).
    public init(
        baseURL: URL, apiKey: String? = nil, accessToken: String? = nil, retryPolicy: RetryPolicy = .default,
        timeout: Duration = .seconds(30), transport: (any ClientTransport)? = nil
    ) {
        core = ClientCore(
            serverURL: Self.serverURL(baseURL),
            transport: transport ?? AsyncHTTPClientTransport(configuration: .init(timeout: .milliseconds(timeout.wholeMilliseconds))),
            credentials: Credentials(apiKey: apiKey, accessToken: accessToken), retryPolicy: retryPolicy)
    }

    /// A client signed in with email and password.
    public static func login(
        baseURL: URL, email: String, password: String, retryPolicy: RetryPolicy = .default, timeout: Duration = .seconds(30),
        transport: (any ClientTransport)? = nil
    ) async throws -> EcosireClient {
        let client = EcosireClient(baseURL: baseURL, retryPolicy: retryPolicy, timeout: timeout, transport: transport)
        try await client.auth.login(email: email, password: password)
        return client
    }

    /// The session of the last ``AuthAPI/login(email:password:)`` or refresh, if any.
    public var session: Components.Schemas.Session? { core.credentials.session }

    /// The generated client, for operations by their `operationId` with the generated inputs and
    /// outputs. It has the same authentication, retries and errors; its errors arrive wrapped in
    /// OpenAPIRuntime's `ClientError`, whose `underlyingError` is the ``EcosireError``.
    public var generated: Client { core.client }

    /// The operations' paths start with `/api`, so a base URL that ends with it (as in the portal's
    /// examples) is taken without it.
    static func serverURL(_ url: URL) -> URL {
        var text = url.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        if text.hasSuffix("/api") { text.removeLast(4) }
        return URL(string: text) ?? url
    }
}

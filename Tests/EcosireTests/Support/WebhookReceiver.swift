import Ecosire
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

/// A real HTTP server on loopback that records the webhook deliveries it receives. The last path
/// segment says how it answers: `ok` → 200, `fail` → 500, `gone` → 410, `busy` → 503 with
/// `Retry-After: 3600`, `nul` → 200 with a NUL byte in the body, `trickle` → 200 and a body that
/// starts and then stalls for 6 seconds, `stall` → 200 only after 5 seconds (past the worker's timeout).
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var path: String
        var headers: HTTPFields
        var body: String
        var arrived = ContinuousClock.now

        func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
        var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    }

    private let received = Mutex<[Delivery]>([])

    var deliveries: [Delivery] { received.withLock { $0 } }

    /// Runs `body` with the receiver listening; `base` is `http://127.0.0.1:<port>`.
    static func run(_ body: @Sendable (_ receiver: WebhookReceiver, _ base: String) async throws -> Void) async throws {
        let receiver = WebhookReceiver()
        let router = Router()
        router.post("/hooks/:behaviour") { request, context -> Response in
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            let behaviour = context.parameters.get("behaviour") ?? "ok"
            receiver.received.withLock {
                $0.append(Delivery(path: behaviour, headers: request.headers, body: String(buffer: buffer)))
            }
            switch behaviour {
            case "fail": return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "receiver is down")))
            case "gone": return Response(status: .gone)
            case "busy": return Response(status: .serviceUnavailable, headers: [.retryAfter: "3600"])
            case "nul": return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: Array("a\u{0}b".utf8))))
            case "stall":
                try? await Task.sleep(for: .seconds(5))
                return Response(status: .ok)
            case "trickle":
                return Response(
                    status: .ok,
                    body: ResponseBody { writer in
                        try await writer.write(ByteBuffer(string: "partial"))
                        try? await Task.sleep(for: .seconds(6))
                        try await writer.finish(nil)
                    })
            default: return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "thanks")))
            }
        }
        var logger = Logger(label: "webhook-receiver")
        logger.logLevel = .error
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        try await app.test(.live) { client in
            try await body(receiver, "http://127.0.0.1:\(client.port ?? 0)")
        }
    }

    /// Waits (up to 10 s) until `count` deliveries arrived; returns them all.
    @discardableResult
    func waitFor(_ count: Int, where predicate: @Sendable (Delivery) -> Bool = { _ in true }) async throws -> [Delivery] {
        for _ in 0..<200 {
            let matching = deliveries.filter(predicate)
            if matching.count >= count { return matching }
            try await Task.sleep(for: .milliseconds(50))
        }
        return deliveries.filter(predicate)
    }
}

extension TestClientSession {
    /// Creates a webhook endpoint; returns the answer (with its `secret`).
    func createEndpoint(_ token: String, url: String, events: [String] = ["*"]) async throws -> JSONValue {
        let response = try await post(
            "/api/webhooks/endpoints", token: token, json: ["url": .string(url), "events": .array(events.map { .string($0) })])
        #expect(response.status == .created, "create endpoint: \(response.text)")
        return response.json
    }

    /// Reads an endpoint's delivery log again until `predicate` holds for it (10 s at most).
    func deliveries(
        of endpointID: String, token: String, until predicate: @Sendable ([JSONValue]) -> Bool
    ) async throws -> [JSONValue] {
        var last: [JSONValue] = []
        for _ in 0..<200 {
            let response = try await get("/api/webhooks/endpoints/\(endpointID)/deliveries?limit=100", token: token)
            last = response.json["data"]?.arrayValue ?? []
            if predicate(last) { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
        return last
    }
}

import Configuration
import Ecosire
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

/// A local server speaking OpenAI's chat-completions protocol. The first path segment picks its
/// behaviour: `cite` answers with the first sentence of source [1] and cites it, `nocite` answers
/// without a citation, `error` fails with a 500.
final class FakeChatModel: Sendable {
    private let received = Mutex<[(headers: HTTPFields, body: JSONValue)]>([])
    var requests: [(headers: HTTPFields, body: JSONValue)] { received.withLock { $0 } }

    static func run(_ body: @Sendable (_ model: FakeChatModel, _ base: String) async throws -> Void) async throws {
        let model = FakeChatModel()
        let router = Router()
        router.post("/:mode/v1/chat/completions") { request, context -> Response in
            var request = request
            let json = try JSONValue.parse(try await request.collectBody(upTo: 1 << 20))
            model.received.withLock { $0.append((request.headers, json)) }
            let prompt = json["messages"]?[1]?["content"]?.stringValue ?? ""
            let content: String
            switch context.parameters.get("mode") {
            case "error": return Response(status: .internalServerError)
            case "nocite": content = "Just restart everything, it always works."
            default:
                // The first sentence of source [1]'s passage (the line after its title).
                let lines = prompt.components(separatedBy: "\n")
                let start = (lines.firstIndex { $0.hasPrefix("[1] ") } ?? 0) + 1
                let passage = start < lines.count ? lines[start] : ""
                let sentence = passage.components(separatedBy: ". ").first ?? passage
                content = sentence.hasSuffix(".") ? "\(sentence) [1]" : "\(sentence). [1]"
            }
            let answer: JSONValue = [
                "id": "chatcmpl-1", "object": "chat.completion", "model": "fake-model",
                "choices": [["index": 0, "message": ["role": "assistant", "content": .string(content)], "finish_reason": "stop"]],
            ]
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer.jsonString)))
        }
        var logger = Logger(label: "fake-chat-model")
        logger.logLevel = .error
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        try await app.test(.live) { client in
            try await body(model, "http://127.0.0.1:\(client.port ?? 0)")
        }
    }
}

extension TestClientSession {
    func ask(_ token: String, _ question: String) async throws -> APIResponse {
        try await post("/api/ecosire-ai/ask", token: token, json: ["question": .string(question)])
    }
}

@Suite struct KnowledgeTests {
    static let moving: JSONObject = [
        "title": "Moving a license to a new server",
        "body":
            "Deactivate the license on the old server first. Then activate it on the new server with the same key. Each license allows 3 activations.",
        "kind": "faq",
    ]

    /// The quoted parts (“…”) of an extractive answer.
    static func quotes(_ answer: String) -> [String] {
        answer.components(separatedBy: "“").dropFirst().compactMap { $0.components(separatedBy: "”").first }
    }

    @Test func extractiveAnswersQuoteOnlyTheirSources() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register()
            let article = try await client.post("/api/knowledge/articles", token: owner.token, json: .object(Self.moving))
            #expect(article.status == .created, "\(article.text)")
            _ = try await client.post(
                "/api/knowledge/articles", token: owner.token,
                json: ["title": "Refunds", "body": "Refunds are paid within 14 days. Licenses of refunded orders are revoked."])
            _ = try await client.post(
                "/api/knowledge/articles", token: owner.token,
                json: ["title": "Draft: moving servers", "body": "Secret plan about servers.", "published": false])
            _ = try await client.createProduct(
                owner.token, ["name": "Odoo Connector", "description": "Syncs orders with Odoo.", "price": 49_900, "sku": "ODOO-1"])

            let answer = try await client.ask(owner.token, "How do I move my license to a new server?")
            #expect(answer.status == .ok, "\(answer.text)")
            #expect(answer.header("X-RateLimit-Limit") == "20")
            let body = answer.json
            #expect(body["mode"] == "extractive")
            let sources = body["sources"]?.arrayValue ?? []
            #expect(sources.first?["title"] == "Moving a license to a new server")
            #expect(sources.first?["type"] == "faq")
            #expect(!sources.contains { $0["title"]?.stringValue?.hasPrefix("Draft") == true }, "drafts are not searched")
            let quotes = Self.quotes(body["answer"]?.stringValue ?? "")
            #expect(!quotes.isEmpty)
            // Every quoted sentence is a sentence of a cited source, word for word.
            let bodies = [Self.moving["body"]!.stringValue!, "Refunds are paid within 14 days. Licenses of refunded orders are revoked."]
            for quote in quotes {
                for sentence in quote.components(separatedBy: " … ") {
                    #expect(bodies.contains { $0.contains(sentence) }, "“\(sentence)” is not in a source")
                }
            }
            #expect(quotes.first?.contains("Deactivate the license on the old server first.") == true)

            let price = try await client.ask(owner.token, "What does the Odoo connector cost?").json
            #expect(price["sources"]?[0]?["type"] == "product")
            #expect((price["answer"]?.stringValue ?? "").contains("Price: 499.00 USD."))

            // Edits and deletions reach the index in the same transaction.
            let id = article.json["id"]!.stringValue!
            _ = try await client.patch(
                "/api/knowledge/articles/\(id)", token: owner.token, json: ["body": "Open a ticket and we move the license for you."])
            let edited = try await client.ask(owner.token, "move license new server").json
            #expect((edited["answer"]?.stringValue ?? "").contains("Open a ticket and we move the license for you."))
            #expect(try await client.delete("/api/knowledge/articles/\(id)", token: owner.token).status == .noContent)
            let gone = try await client.ask(owner.token, "move license new server").json
            #expect(!(gone["sources"]?.arrayValue ?? []).contains { $0["title"] == "Moving a license to a new server" })

            let nothing = try await client.ask(owner.token, "zebra migration patterns").json
            #expect(nothing["sources"]?.arrayValue?.isEmpty == true)
            #expect((nothing["answer"]?.stringValue ?? "").contains("could not find"))

            // Another organization's knowledge is not searched.
            let stranger = try await client.register()
            #expect(try await client.ask(stranger.token, "refunds paid days").json["sources"]?.arrayValue?.isEmpty == true)

            let blank = try await client.ask(owner.token, "   ")
            #expect(blank.status == .unprocessableContent)
        }
    }

    @Test func aConfiguredModelWritesTheAnswerFromTheRetrievedPassages() async throws {
        try await FakeChatModel.run { model, base in
            for mode in ["cite", "nocite", "error"] {
                let overrides: [String: ConfigValue] = [
                    "ai.base.url": .init(stringLiteral: "\(base)/\(mode)/v1"), "ai.api.key": "sk-test", "ai.model": "fake-model",
                    "rate.limit.ai.ask": 2,
                ]
                // Windows are aligned to the minute: a frozen clock keeps the three questions in one.
                let frozen = Date()
                try await TestServer.run(overrides, clock: WallClock { frozen }) { client, _ in
                    let owner = try await client.register()
                    _ = try await client.post("/api/knowledge/articles", token: owner.token, json: .object(Self.moving))
                    let before = model.requests.count
                    let answer = try await client.ask(owner.token, "How do I move my license to a new server?")
                    #expect(answer.status == .ok, "\(answer.text)")
                    #expect(model.requests.count == before + 1, "the model was asked once")
                    let sent = model.requests.last
                    #expect(sent?.headers[.authorization] == "Bearer sk-test")
                    #expect(sent?.body["model"] == "fake-model")
                    #expect(sent?.body["temperature"] == 0)
                    let prompt = sent?.body["messages"]?[1]?["content"]?.stringValue ?? ""
                    #expect(prompt.contains(Self.moving["body"]!.stringValue!), "the passage went to the model")
                    #expect(prompt.contains("How do I move my license to a new server?"))
                    #expect(
                        (sent?.body["messages"]?[0]?["content"]?.stringValue ?? "").contains(
                            "Use only facts stated in the numbered sources"))
                    if mode == "cite" {
                        #expect(answer.json["mode"] == "generated")
                        #expect(answer.json["model"] == "fake-model")
                        #expect(answer.json["answer"] == "Deactivate the license on the old server first. [1]")
                    } else {
                        #expect(answer.json["mode"] == "extractive", "\(mode): the passages answer instead")
                        #expect(answer.json["model"] == .null)
                        #expect((answer.json["answer"]?.stringValue ?? "").contains("restart everything") == false)
                    }
                    // No sources: the model is not asked to make something up.
                    let unknown = try await client.ask(owner.token, "zebra migration patterns")
                    #expect(model.requests.count == before + 1)
                    #expect(unknown.json["mode"] == "extractive")
                    let limited = try await client.ask(owner.token, "again")
                    #expect(limited.status == .tooManyRequests)
                    #expect(limited.json["code"] == "RATE_LIMITED")
                }
            }
        }
    }
}

import Foundation
import HTTPTypes
import Logging
import SQLKit

/// Knowledge articles and FAQ entries, and `POST /api/ecosire-ai/ask`, which answers from them
/// and from the product catalog by full-text retrieval, with its sources cited.
struct KnowledgeModule: Module {
    let platform: Platform
    let articles: ResourceStore
    let search: SearchIndex
    let chat: AIChatClient?

    static let kinds = ["article", "faq"]

    static func resource(clock: WallClock) -> Resource {
        Resource(
            singular: "KnowledgeArticle", plural: "KnowledgeArticles", tag: "Knowledge", path: "/api/knowledge/articles",
            table: "knowledge_articles",
            fields: [
                ResourceField(
                    "title", schema: Schema.string(minLength: 1, maxLength: 300).describe("For a FAQ entry, the question"), required: true),
                ResourceField(
                    "body",
                    schema: Schema.string(minLength: 1, maxLength: 100_000).describe("Plain text or Markdown; for a FAQ entry, the answer"),
                    required: true),
                ResourceField("kind", schema: .enumeration(kinds), default: "article"),
                ResourceField(
                    "url",
                    schema: Schema.string(maxLength: 2048, format: "uri").matching("^https?://").describe(
                        "Its public page, cited by answers")),
                ResourceField("tags", schema: .array(.string(minLength: 1, maxLength: 50), maxItems: 20), storage: .json, default: []),
                ResourceField(
                    "published", schema: Schema.boolean.describe("Only published entries are searched"), storage: .boolean, default: true),
            ],
            sortable: ["createdAt", "updatedAt", "title"], searchable: ["title"],
            filters: [
                .equals("kind", column: "kind", schema: .enumeration(kinds), description: "Only articles or only FAQ entries"),
                .boolean("published", column: "published", description: "Only published (true) or draft (false) entries"),
                .arrayContains("tag", column: "tags", description: "Only entries with this tag"),
            ],
            example: [
                "title": "How do I move a license to a new server?",
                "body": "Deactivate it on the old server first. Then activate it on the new one with the same key.", "kind": "faq",
            ],
            eventPrefix: "knowledge_article",
            onChange: { change, sql, organizationID in
                switch change {
                case .created(let article), .updated(_, let article):
                    let id = article["id"]?.stringValue ?? ""
                    guard article["published"]?.boolValue ?? false else {
                        try await SearchIndex.remove(sql, sourceID: id)
                        return
                    }
                    try await SearchIndex.upsert(
                        sql, organizationID: organizationID,
                        SearchIndex.Document(
                            sourceType: article["kind"]?.stringValue ?? "article", sourceID: id, title: article["title"]?.stringValue ?? "",
                            body: article["body"]?.stringValue ?? "", url: article["url"]?.stringValue ?? "/api/knowledge/articles/" + id),
                        now: clock.nowMillis())
                case .deleted(let article):
                    try await SearchIndex.remove(sql, sourceID: article["id"]?.stringValue ?? "")
                }
            }
        )
    }

    init(platform: Platform) {
        self.platform = platform
        self.articles = ResourceStore(resource: Self.resource(clock: platform.clock), database: platform.database, clock: platform.clock)
        self.search = SearchIndex(database: platform.database)
        self.chat = platform.config.ai.baseURL == nil ? nil : AIChatClient(settings: platform.config.ai)
    }

    var eventTypes: [EventType] { articles.resource.eventTypes }

    static let answerSchema = Schema.object([
        .init("answer", Schema.string().describe("Cites its sources as [n], the position in `sources`"), required: true),
        .init(
            "sources",
            .array(
                Schema.object([
                    .init("title", .string(), required: true), .init("url", .string(), required: true),
                    .init("snippet", Schema.string().describe("The source's own words"), required: true),
                    .init("type", .enumeration(["product", "article", "faq"]), required: true),
                ]).named("AnswerSource")), required: true),
        .init(
            "mode",
            Schema.enumeration(["generated", "extractive"]).describe(
                "generated: written by the configured model from the sources; extractive: the sources quoted"), required: true),
        .init("model", Schema.string().describe("The model that wrote a generated answer").orNull(), required: true),
    ]).named("AIAnswer")

    func register(on api: APIRouter) {
        ResourceRoutes(resource: articles.resource, store: articles).register(on: api)

        api.add(
            Operation(
                .post, "/api/ecosire-ai/ask", id: "askEcosireAI", tag: "Knowledge", summary: "Ask the knowledge base",
                description:
                    "Retrieves the organization's best-matching products, knowledge articles and FAQ entries by full-text search. With AI_BASE_URL configured, an OpenAI-compatible model writes the answer from those passages only and must cite them; otherwise (or when the model fails or cites nothing) the answer is the passages quoted verbatim.",
                body: .json(
                    Schema.object([
                        .init("question", .string(minLength: 1, maxLength: 2_000), required: true),
                        .init("context", Schema.string(maxLength: 4_000).describe("What the user is looking at; helps retrieval")),
                    ]).named("AIQuestion"), example: ["question": "How do I move my license to a new server?"]),
                responses: [ResponseSpec(200, "The answer and its sources", schema: Self.answerSchema)],
                rateLimit: .aiAsk, callsOtherServices: true
            )
        ) { input in
            let caller = try input.caller
            let question = input.object["question"]?.stringValue ?? ""
            let context = input.object["context"]?.stringValue
            if question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw APIError.validation(field: "question", "Must not be blank")
            }
            var terms = SearchIndex.terms(question)
            if let context { terms += SearchIndex.terms(context).filter { !terms.contains($0) } }
            let hits = try await search.search(
                organizationID: caller.organizationID, terms: Array(terms.prefix(24)), limit: AnswerComposer.maxSources)
            let sources = AnswerComposer.sources(hits, terms: terms)
            var answer = AnswerComposer.extractiveAnswer(sources)
            var mode = "extractive"
            var model: JSONValue = .null
            if let chat, !sources.isEmpty {
                do {
                    let reply = try await chat.complete(AnswerComposer.chatMessages(question: question, context: context, sources: sources))
                    if AnswerComposer.citations(in: reply.text, sourceCount: sources.count).isEmpty {
                        platform.logger.warning("The AI model's answer cited no source; answering with the passages instead")
                    } else {
                        answer = reply.text
                        mode = "generated"
                        model = .string(reply.model)
                    }
                } catch {
                    platform.logger.warning("The AI model failed; answering with the passages", metadata: ["error": .string("\(error)")])
                }
            }
            return .json([
                "answer": .string(answer),
                "sources": .array(
                    sources.map {
                        ["title": .string($0.title), "url": .string($0.url), "snippet": .string($0.snippet), "type": .string($0.type)]
                    }),
                "mode": .string(mode), "model": model,
            ])
        }
    }
}

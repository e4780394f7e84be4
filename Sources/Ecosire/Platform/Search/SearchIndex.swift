import Foundation
import SQLKit

/// Full-text search over an organization's knowledge (products, knowledge articles, FAQ): one
/// `search_documents` row per source record, kept current by the owning module inside the
/// transaction of each change, and indexed by SQLite FTS5 (BM25 ranking, Porter stemming) or a
/// PostgreSQL `tsvector` column with a GIN index (`ts_rank_cd`, English stemming).
public struct SearchIndex: Sendable {
    public let database: any Database

    public init(database: any Database) { self.database = database }

    /// A searchable record.
    public struct Document: Sendable, Equatable {
        /// `product`, `article`, `faq`.
        public var sourceType: String
        public var sourceID: String
        public var title: String
        public var body: String
        /// Where the source can be read (an API path, or the article's public page).
        public var url: String

        public init(sourceType: String, sourceID: String, title: String, body: String, url: String) {
            self.sourceType = sourceType
            self.sourceID = sourceID
            self.title = title
            self.body = body
            self.url = url
        }
    }

    /// A match, best first.
    public struct Hit: Sendable {
        public var document: Document
        /// The backend's relevance (BM25 or cover density), higher is better; comparable only
        /// within one search.
        public var score: Double
    }

    /// Adds or replaces the document of a record (on the caller's connection).
    public static func upsert(_ sql: any SQLDatabase, organizationID: String, _ document: Document, now: Int64) async throws {
        try await sql.raw(
            """
            INSERT INTO search_documents (source_id, organization_id, source_type, title, body, url, updated_at)
            VALUES (\(bind: document.sourceID), \(bind: organizationID), \(bind: document.sourceType), \(bind: document.title),
                    \(bind: document.body), \(bind: document.url), \(bind: now))
            ON CONFLICT (source_id) DO UPDATE SET source_type = excluded.source_type, title = excluded.title, body = excluded.body,
                url = excluded.url, updated_at = excluded.updated_at
            """
        ).run()
    }

    /// Removes a record's document.
    public static func remove(_ sql: any SQLDatabase, sourceID: String) async throws {
        try await sql.raw("DELETE FROM search_documents WHERE source_id = \(bind: sourceID)").run()
    }

    /// Words that carry no meaning for retrieval; questions are full of them.
    static let stopWords: Set<String> = [
        "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "could", "do", "does", "for", "from", "has", "have", "how",
        "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "should", "so", "that", "the", "their", "there",
        "this", "to", "was", "we", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
    ]

    /// The question's search terms: lower-cased letters and digits, stop words dropped, at most 24.
    public static func terms(_ text: String) -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        let words = text.lowercased().split { !($0.isLetter || $0.isNumber) }
        for word in words.map(String.init) where word.count > 1 && word.count <= 64 && !stopWords.contains(word) {
            if seen.insert(word).inserted { result.append(word) }
            if result.count == 24 { break }
        }
        return result
    }

    /// The best documents of the organization for any of `terms`.
    public func search(organizationID: String, terms: [String], limit: Int) async throws -> [Hit] {
        guard !terms.isEmpty else { return [] }
        let rows: [any ColumnValues]
        switch database.dialect {
        case .sqlite:
            // Each term quoted: FTS5 syntax characters in a question are matched as text.
            let match = terms.map { "\"" + $0.replacingOccurrences(of: "\"", with: "") + "\"" }.joined(separator: " OR ")
            rows = try await database.readRows(
                """
                SELECT d.source_type, d.source_id, d.title, d.body, d.url, CAST(-bm25(search_documents_fts, 4.0, 1.0) * 1000000 AS INTEGER) AS score
                FROM search_documents_fts JOIN search_documents d ON d.doc_id = search_documents_fts.rowid
                WHERE search_documents_fts MATCH \(bind: match) AND d.organization_id = \(bind: organizationID)
                ORDER BY score DESC, d.source_id LIMIT \(bind: limit)
                """)
        case .postgres:
            // Terms are letters and digits only, so joining them with | is a well-formed tsquery.
            let query = terms.joined(separator: " | ")
            rows = try await database.readRows(
                """
                SELECT source_type, source_id, title, body, url, (ts_rank_cd(document, q) * 1000000)::bigint AS score
                FROM search_documents, to_tsquery('english', \(bind: query)) AS q
                WHERE organization_id = \(bind: organizationID) AND document @@ q
                ORDER BY score DESC, source_id LIMIT \(bind: limit)
                """)
        }
        return try rows.map { row in
            Hit(
                document: Document(
                    sourceType: try row.text("source_type"), sourceID: try row.text("source_id"), title: try row.text("title"),
                    body: try row.text("body"), url: try row.text("url")),
                score: Double(try row.integer("score")) / 1_000_000)
        }
    }
}

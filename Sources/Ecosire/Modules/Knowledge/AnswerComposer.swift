import Foundation

/// Turns search hits into cited passages and, without a language model, into an answer made of
/// those passages quoted word for word.
enum AnswerComposer {
    /// A retrieved source as the answer cites it: `[n]` is its position, 1-based.
    struct Source: Sendable {
        var title: String
        var url: String
        /// Sentences of the source that mention the question's terms, verbatim, joined by " … ".
        var snippet: String
        /// More of the source, for the language model.
        var passage: String
        var type: String
    }

    static let maxSources = 5

    /// Sentences (split after `.`, `!`, `?` or a line break), trimmed, non-empty.
    static func sentences(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        for character in text {
            if character == "\n" {
                let trimmed = current.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty { result.append(trimmed) }
                current = ""
                continue
            }
            current.append(character)
            if character == "." || character == "!" || character == "?" {
                let trimmed = current.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty { result.append(trimmed) }
                current = ""
            }
        }
        let trimmed = current.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty { result.append(trimmed) }
        return result
    }

    /// Whether a sentence mentions a term (compared by its first five letters, a cheap stem:
    /// "activation" matches "activate").
    static func mentions(_ sentence: String, _ term: String) -> Bool {
        let lowered = sentence.lowercased()
        return lowered.contains(term) || (term.count > 5 && lowered.contains(term.prefix(5)))
    }

    /// The cited sources for the hits: the two sentences that mention most terms (in their
    /// original order), or the start of the text when none does.
    static func sources(_ hits: [SearchIndex.Hit], terms: [String]) -> [Source] {
        hits.prefix(maxSources).map { hit in
            let document = hit.document
            let all = sentences(document.body)
            let scored = all.enumerated().map { index, sentence in
                (index, terms.filter { mentions(sentence, $0) }.count)
            }
            let chosen = scored.filter { $0.1 > 0 }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(2).map(\.0).sorted()
            var snippet = chosen.map { all[$0] }.joined(separator: " … ")
            if snippet.isEmpty { snippet = String((all.first ?? document.title).prefix(300)) }
            if snippet.count > 600 { snippet = String(snippet.prefix(600)) + "…" }
            return Source(
                title: document.title, url: document.url, snippet: snippet, passage: String(document.body.prefix(2_000)),
                type: document.sourceType)
        }
    }

    static let nothingFound = "I could not find anything about this in the knowledge base."

    /// The passages themselves, quoted and numbered.
    static func extractiveAnswer(_ sources: [Source]) -> String {
        guard !sources.isEmpty else { return nothingFound }
        var lines = ["Here is what the knowledge base says (quoted from the sources below):"]
        for (index, source) in sources.enumerated() {
            lines.append("[\(index + 1)] \(source.title): “\(source.snippet)”")
        }
        return lines.joined(separator: "\n\n")
    }

    /// The instructions and numbered sources for an OpenAI-compatible chat model.
    static func chatMessages(question: String, context: String?, sources: [Source]) -> [JSONValue] {
        var prompt = "Sources:\n"
        for (index, source) in sources.enumerated() {
            prompt += "\n[\(index + 1)] \(source.title)\n\(source.passage)\n"
        }
        if let context, !context.isEmpty { prompt += "\nWhat the user is looking at: \(context)\n" }
        prompt += "\nQuestion: \(question)"
        return [
            [
                "role": "system",
                "content": """
                You answer questions for a business from its own knowledge base. Use only facts stated in the numbered sources. \
                Cite every fact with its source number in square brackets, like [1]. If the sources do not answer the question, \
                say that you do not know. Never add facts from elsewhere.
                """,
            ],
            ["role": "user", "content": .string(prompt)],
        ]
    }

    /// The source numbers an answer cites (`[2]`), in range.
    static func citations(in answer: String, sourceCount: Int) -> Set<Int> {
        var found = Set<Int>()
        var digits = ""
        var open = false
        for character in answer {
            if character == "[" {
                open = true
                digits = ""
            } else if open && character.isNumber {
                digits.append(character)
            } else {
                if open && character == "]", let number = Int(digits), (1...sourceCount).contains(number) { found.insert(number) }
                open = false
            }
        }
        return found
    }
}

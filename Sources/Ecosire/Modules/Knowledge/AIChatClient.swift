import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// An OpenAI-compatible chat-completions client (`POST {AI_BASE_URL}/chat/completions`), which
/// OpenAI, Azure-style gateways, vLLM, Ollama and llama.cpp servers all speak.
struct AIChatClient: Sendable {
    let settings: AISettings

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The model's reply to `messages`, at temperature 0.
    func complete(_ messages: [JSONValue]) async throws -> (text: String, model: String) {
        guard let base = settings.baseURL else { throw Failure(description: "AI_BASE_URL is not set") }
        var request = HTTPClientRequest(url: base + "/chat/completions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key = settings.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        let body: JSONValue = ["model": .string(settings.model), "temperature": 0, "messages": .array(messages)]
        request.body = .bytes(ByteBuffer(string: body.jsonString))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(settings.timeoutSeconds)))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(response.status.code) else {
            throw Failure(description: "The model endpoint answered HTTP \(response.status.code)")
        }
        let json = try JSONValue.parse(bytes)
        guard let text = json["choices"]?[0]?["message"]?["content"]?.stringValue, !text.isEmpty else {
            throw Failure(description: "The model endpoint's answer has no choices[0].message.content")
        }
        return (text, json["model"]?.stringValue ?? settings.model)
    }
}

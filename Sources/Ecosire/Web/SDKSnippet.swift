/// One of the portal's common operations: the same code in both SDKs, copied by
/// scripts/snippets.py from the tests that run it (`all` is in Generated/SDKSnippets.swift).
struct SDKSnippet: Sendable {
    let number: Int
    let name: String
    let title: String
    let swift: String
    let typescript: String
}

/// One of the portal's common operations: the same steps with both SDKs and with curl, copied by
/// scripts/snippets.py from the tests that run them (`all` is in Generated/SDKSnippets.swift).
struct SDKSnippet: Sendable {
    let number: Int
    let name: String
    let title: String
    let swift: String
    let typescript: String
    let curl: String
}

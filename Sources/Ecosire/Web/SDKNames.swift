/// The SDKs' names for an operation, by the rule scripts/generate_sdk.py applies (tag → namespace,
/// operationId minus the tag's noun → method), so the reference's samples call what the SDKs
/// declare. A test checks every operation's name against the generated TypeScript client.
enum SDKNames {
    /// `API Keys` → `apiKeys`, `Public intake` → `publicIntake`.
    static func namespace(_ tag: String) -> String {
        let parts = tag.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        guard let first = parts.first else { return tag }
        let head = first == first.uppercased() ? first.lowercased() : first.prefix(1).lowercased() + first.dropFirst()
        return head
            + parts.dropFirst().map { part in
                part.count > 1 && part == part.uppercased()
                    ? part.prefix(1) + part.dropFirst().lowercased() : part.prefix(1).uppercased() + part.dropFirst()
            }.joined()
    }

    /// The session calls both SDKs write by hand (they keep the tokens), with their samples.
    static let handwritten: [String: (method: String, typescript: String, swift: String)] = [
        "login": (
            "login", "const session = await client.auth.login({ email, password });",
            "let session = try await client.auth.login(email: email, password: password)"
        ),
        "refreshToken": ("refresh", "const session = await client.auth.refresh();", "let session = try await client.auth.refresh()"),
        "logout": ("logout", "await client.auth.logout();", "try await client.auth.logout()"),
    ]

    /// `listContacts` in Contacts → `list`; `getApiKeyAudit` in API Keys → `getAudit`.
    static func method(_ operationID: String, tag: String) -> String {
        if let handwritten = handwritten[operationID] { return handwritten.method }
        let parts = words(operationID)
        guard let verb = parts.first else { return operationID }
        var rest = Array(parts.dropFirst())
        let noun = tag.split(separator: " ").map { $0.lowercased() }
        let candidates = [noun, noun.dropLast() + noun.suffix(1).map(singular)]
        let lowered = rest.map { $0.lowercased() }
        for candidate in candidates where !candidate.isEmpty && lowered.starts(with: candidate) {
            rest.removeFirst(candidate.count)
            break
        }
        return verb + rest.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// The words of a camel-case identifier: runs of capitals, capitalised words, digits.
    static func words(_ identifier: String) -> [String] {
        var words: [String] = []
        let characters = Array(identifier)
        var index = 0
        while index < characters.count {
            let start = index
            let character = characters[index]
            if character.isNumber {
                while index < characters.count, characters[index].isNumber { index += 1 }
            } else if character.isUppercase {
                // A run of capitals not followed by a lower-case letter (`API`), else one word (`Keys`).
                var end = index
                while end < characters.count, characters[end].isUppercase { end += 1 }
                if end - index > 1 && (end == characters.count || !characters[end].isLowercase) {
                    index = end
                } else if end - index > 1 {
                    index = end - 1
                } else {
                    index += 1
                    while index < characters.count, characters[index].isLowercase { index += 1 }
                }
            } else if character.isLowercase {
                while index < characters.count, characters[index].isLowercase { index += 1 }
            } else {
                index += 1
                continue
            }
            words.append(String(characters[start..<index]))
        }
        return words
    }

    static func singular(_ word: String) -> String {
        if word.hasSuffix("ies") { return word.dropLast(3) + "y" }
        if word.hasSuffix("s") && !word.hasSuffix("ss") { return String(word.dropLast()) }
        return word
    }
}

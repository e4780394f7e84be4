import Foundation

/// The characters text may hold, the same on SQLite and PostgreSQL (which cannot store U+0000 in
/// `text` at all): no C0 control characters but tab, line feed and carriage return, and none of
/// those either in a single-line value.
public enum TextRule {
    /// Why `text` breaks the rule, or nil when it does not.
    public static func problem(in text: String, singleLine: Bool) -> String? {
        for scalar in text.unicodeScalars where scalar.value < 0x20 {
            switch scalar.value {
            case 0x09, 0x0A, 0x0D:
                if singleLine { return "Must be a single line (no tab, line feed or carriage return)" }
            default:
                return "Must not contain control characters (U+0000 to U+001F other than tab, line feed and carriage return)"
            }
        }
        return nil
    }
}

/// Text is stored in Unicode Normalization Form C, whichever form the client sent, so that "é" typed
/// as one code point or as "e" plus a combining accent is the same name, the same email, the same
/// search, and counts the same length on both databases.
extension TextRule {
    /// `text` in NFC. Below U+0300 nothing composes, so most text is returned as it is.
    public static func normalized(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value >= 0x300 }) else { return text }
        return text.precomposedStringWithCanonicalMapping
    }

    /// Two member names of one object that are the same name once normalized.
    public struct DuplicateMember: Error { public var name: String }

    /// Every string and member name of `value` in NFC; throws when two member names of one object
    /// differ only in their normalization (the same name twice).
    public static func normalized(_ value: JSONValue) throws(DuplicateMember) -> JSONValue {
        switch value {
        case .string(let text): return .string(normalized(text))
        case .array(let elements):
            var result: [JSONValue] = []
            result.reserveCapacity(elements.count)
            for element in elements { result.append(try normalized(element)) }
            return .array(result)
        case .object(let object):
            var members: [(String, JSONValue)] = []
            var names: Set<String> = []
            for (key, member) in object.members {
                let name = normalized(key)
                guard names.insert(name).inserted else { throw DuplicateMember(name: name) }
                members.append((name, try normalized(member)))
            }
            return .object(JSONObject(members))
        default: return value
        }
    }
}

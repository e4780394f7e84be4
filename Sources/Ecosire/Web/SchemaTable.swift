import Foundation

/// A schema as the reference pages show it: one row per field, nested objects flattened into
/// dotted names (`address.city`, `lineItems[].quantity`), named schemas linked instead of repeated.
struct SchemaTable {
    let reference: APIReference
    /// How deep inline objects are unfolded; deeper ones are summarised by their type.
    static let maximumDepth = 4

    struct Row {
        var name: String
        var type: String
        var link: String?
        var required: Bool
        var description: String
        var rules: String
        var depth: Int

        var templateValue: [String: Any] {
            var value: [String: Any] = [
                "name": name, "type": type, "required": required, "description": description, "rules": rules, "depth": depth,
            ]
            if let link { value["link"] = link }
            return value
        }
    }

    /// The rows of `schema`'s fields; a `$ref` at the top is unfolded (that is the body or answer
    /// itself), deeper ones become links.
    func rows(_ schema: JSONValue?) -> [Row] {
        guard let resolved = reference.resolve(schema) else { return [] }
        var rows: [Row] = []
        fields(of: resolved, prefix: "", depth: 0, into: &rows)
        return rows
    }

    private func fields(of schema: JSONValue, prefix: String, depth: Int, into rows: inout [Row]) {
        if let parts = schema["allOf"]?.arrayValue {
            for part in parts {
                if let resolved = reference.resolve(part) { fields(of: resolved, prefix: prefix, depth: depth, into: &rows) }
            }
            return
        }
        if schema["type"]?.stringValue == "array", let items = schema["items"], depth < Self.maximumDepth {
            if APIReference.refName(items) == nil, items["properties"] != nil {
                fields(of: items, prefix: prefix + "[]", depth: depth, into: &rows)
            }
            return
        }
        guard let properties = schema["properties"]?.objectValue, depth < Self.maximumDepth else { return }
        let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        for (name, property) in properties.members {
            let fullName = prefix.isEmpty ? name : prefix + "." + name
            rows.append(
                Row(
                    name: fullName, type: typeName(property), link: link(property), required: required.contains(name),
                    description: description(property), rules: rules(property), depth: depth))
            if APIReference.refName(property) == nil {
                fields(of: property, prefix: fullName, depth: depth + 1, into: &rows)
            }
        }
    }

    /// The field's own description, else the named schema's.
    private func description(_ schema: JSONValue) -> String {
        schema["description"]?.stringValue ?? reference.resolve(schema)?["description"]?.stringValue ?? ""
    }

    /// `string (email) | null`, `array of Contact`, `object`, `one of A, B`.
    func typeName(_ schema: JSONValue) -> String {
        if let name = APIReference.refName(schema) { return name }
        for combinator in ["oneOf", "anyOf"] {
            if let options = schema[combinator]?.arrayValue {
                return "one of " + options.map(typeName).joined(separator: ", ")
            }
        }
        if let parts = schema["allOf"]?.arrayValue, parts.count == 1 { return typeName(parts[0]) }
        var name = schema["type"]?.stringValue ?? "any"
        if name == "array", let items = schema["items"] { name = "array of " + typeName(items) }
        if name == "object", let values = schema["additionalProperties"], values.objectValue.map({ !$0.members.isEmpty }) == true {
            name = "map of " + typeName(values)
        }
        if let format = schema["format"]?.stringValue { name += " (\(format))" }
        if schema["nullable"]?.boolValue == true { name += " | null" }
        return name
    }

    private func link(_ schema: JSONValue) -> String? {
        if let name = APIReference.refName(schema) ?? APIReference.refName(schema["items"]) { return "/docs/reference/schemas/" + name }
        return nil
    }

    /// The constraints a value must meet, in words.
    func rules(_ schema: JSONValue) -> String {
        var rules: [String] = []
        if let values = schema["enum"]?.arrayValue {
            rules.append("one of " + values.map { $0.stringValue ?? $0.prettyString() }.joined(separator: ", "))
        }
        let bounds: [(String, String)] = [
            ("minLength", "at least %@ characters"), ("maxLength", "at most %@ characters"), ("minimum", "≥ %@"),
            ("maximum", "≤ %@"), ("exclusiveMinimum", "> %@"), ("exclusiveMaximum", "< %@"), ("minItems", "at least %@ items"),
            ("maxItems", "at most %@ items"),
        ]
        for (key, phrase) in bounds {
            if let value = schema[key], value.boolValue == nil {
                rules.append(phrase.replacingOccurrences(of: "%@", with: value.prettyString()))
            }
        }
        if let pattern = schema["pattern"]?.stringValue { rules.append("matches \(pattern)") }
        if let value = schema["default"] { rules.append("default \(value.stringValue ?? value.prettyString())") }
        if schema["readOnly"]?.boolValue == true { rules.append("read-only") }
        if schema["uniqueItems"]?.boolValue == true { rules.append("no duplicates") }
        return rules.joined(separator: "; ")
    }
}

import Foundation

/// A JSON Schema (the OpenAPI 3.0 subset we use) that can both describe a value in the OpenAPI
/// document and check a request body against that same description, so the document and the server
/// can never disagree about what is accepted.
public struct Schema: Sendable {
    /// The JSON type.
    public indirect enum Kind: Sendable {
        case string
        case integer
        case number
        case boolean
        case array(Schema)
        case object([Property], additional: Schema?)
        /// Any JSON value (documented as an unconstrained schema).
        case any
        /// Exactly one of these (response shapes that depend on the request; a request field that
        /// takes either of two forms, such as a license check's `timestamp`).
        case oneOf([Schema])
    }

    /// A named member of an object schema.
    public struct Property: Sendable {
        public var name: String
        public var schema: Schema
        public var required: Bool
        public init(_ name: String, _ schema: Schema, required: Bool = false) {
            self.name = name
            self.schema = schema
            self.required = required
        }
    }

    public var kind: Kind
    public var nullable = false
    public var description: String?
    public var format: String?
    public var pattern: String?
    public var minLength: Int?
    public var maxLength: Int?
    public var minimum: Int64?
    public var maximum: Int64?
    public var minItems: Int?
    public var maxItems: Int?
    public var allowed: [String]?
    public var example: JSONValue?
    public var readOnly = false
    /// When set, the document emits `$ref: #/components/schemas/<name>` and defines it once.
    public var componentName: String?

    public init(_ kind: Kind) { self.kind = kind }

    // MARK: Builders

    public static func string(minLength: Int? = nil, maxLength: Int? = nil, format: String? = nil) -> Schema {
        var schema = Schema(.string)
        schema.minLength = minLength
        schema.maxLength = maxLength
        schema.format = format
        return schema
    }

    public static func integer(minimum: Int64? = nil, maximum: Int64? = nil) -> Schema {
        var schema = Schema(.integer)
        schema.minimum = minimum
        schema.maximum = maximum
        return schema
    }

    public static var boolean: Schema { Schema(.boolean) }
    public static var number: Schema { Schema(.number) }
    public static var anyValue: Schema { Schema(.any) }
    public static func oneOf(_ choices: [Schema]) -> Schema { Schema(.oneOf(choices)) }

    public static func enumeration(_ values: [String]) -> Schema {
        var schema = Schema(.string)
        schema.allowed = values
        return schema
    }

    public static func array(_ items: Schema, maxItems: Int? = nil) -> Schema {
        var schema = Schema(.array(items))
        schema.maxItems = maxItems
        return schema
    }

    public static func object(_ properties: [Property], additional: Schema? = nil) -> Schema {
        Schema(.object(properties, additional: additional))
    }

    public static var email: Schema { .string(maxLength: 254, format: "email") }
    public static var uuid: Schema { .string(format: "uuid") }
    public static var dateTime: Schema { .string(format: "date-time") }

    // MARK: Modifiers

    public func named(_ name: String) -> Schema { with { $0.componentName = name } }
    public func orNull() -> Schema { with { $0.nullable = true } }
    public func describe(_ text: String) -> Schema { with { $0.description = text } }
    public func example(_ value: JSONValue) -> Schema { with { $0.example = value } }
    public func matching(_ regex: String) -> Schema { with { $0.pattern = regex } }
    public func asReadOnly() -> Schema { with { $0.readOnly = true } }

    private func with(_ change: (inout Schema) -> Void) -> Schema {
        var copy = self
        change(&copy)
        return copy
    }

    /// A short phrase naming what the schema accepts, for error messages ("an integer from 0 to 9").
    public var summary: String {
        if let componentName { return componentName }
        switch kind {
        case .string:
            if let allowed { return "one of " + allowed.joined(separator: ", ") }
            if let pattern { return "a string matching \(pattern)" }
            return format.map { "a string (\($0))" } ?? "a string"
        case .integer:
            switch (minimum, maximum) {
            case (let low?, let high?): return "an integer from \(low) to \(high)"
            case (let low?, nil): return "an integer of at least \(low)"
            case (nil, let high?): return "an integer of at most \(high)"
            case (nil, nil): return "an integer"
            }
        case .number: return "a number"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .object: return "an object"
        case .any: return "any value"
        case .oneOf(let choices): return choices.map(\.summary).joined(separator: " or ")
        }
    }

    /// The object's properties, if this is an object schema.
    public var properties: [Property] {
        if case .object(let properties, _) = kind { return properties }
        return []
    }
}

// MARK: - Validation

/// Why a value failed its schema. Shape problems (wrong type, unknown field) are a 400; rule
/// problems (missing, too long, not an email) are a 422.
public struct SchemaIssue: Sendable {
    public enum Severity: Sendable { case shape, rule }
    public var severity: Severity
    public var issue: FieldIssue
}

extension Schema {
    /// Checks `value`, returning every problem found (empty when valid).
    public func validate(_ value: JSONValue, at path: String = "") -> [SchemaIssue] {
        var issues: [SchemaIssue] = []
        check(value, at: path, into: &issues)
        return issues
    }

    /// How many problems an error lists: a hostile body with thousands of unknown members gets the
    /// first ones, not an answer larger than itself.
    static let reportedIssues = 50

    /// Throws the API error a body with these problems deserves: 400 for shape problems, else 422.
    public func enforce(_ value: JSONValue, root: String = "body") throws {
        let issues = validate(value)
        guard !issues.isEmpty else { return }
        let shape = issues.filter { $0.severity == .shape }
        if !shape.isEmpty {
            var fields = shape.prefix(10).map(\.issue.field).joined(separator: ", ")
            if shape.count > 10 { fields += " and \(shape.count - 10) more" }
            throw APIError.badRequest("Invalid request \(root): \(fields)", details: shape.prefix(Self.reportedIssues).map(\.issue))
        }
        throw APIError.validation(issues.prefix(Self.reportedIssues).map(\.issue))
    }

    private func shape(_ path: String, _ message: String, _ issues: inout [SchemaIssue]) {
        issues.append(SchemaIssue(severity: .shape, issue: FieldIssue(field: path.isEmpty ? "body" : path, message: message)))
    }

    private func rule(_ path: String, _ message: String, _ issues: inout [SchemaIssue]) {
        issues.append(SchemaIssue(severity: .rule, issue: FieldIssue(field: path.isEmpty ? "body" : path, message: message)))
    }

    private func check(_ value: JSONValue, at path: String, into issues: inout [SchemaIssue]) {
        if case .null = value {
            if case .any = kind { return }
            if !nullable { shape(path, "Must not be null", &issues) }
            return
        }
        switch kind {
        case .any:
            Self.checkText(in: value, at: path, into: &issues)
        case .oneOf(let choices):
            let matching = choices.filter { $0.validate(value, at: path).isEmpty }.count
            if matching != 1 {
                shape(path, "Expected exactly one of: " + choices.map(\.summary).joined(separator: "; "), &issues)
            }
        case .boolean:
            guard case .bool = value else { return shape(path, "Expected a boolean", &issues) }
        case .integer:
            guard let number = value.intValue else { return shape(path, "Expected an integer", &issues) }
            if let minimum, number < minimum { rule(path, "Must be at least \(minimum)", &issues) }
            if let maximum, number > maximum { rule(path, "Must be at most \(maximum)", &issues) }
        case .number:
            switch value {
            case .int, .double: break
            default: return shape(path, "Expected a number", &issues)
            }
        case .string:
            guard case .string(let string) = value else { return shape(path, "Expected a string", &issues) }
            checkString(string, at: path, into: &issues)
        case .array(let items):
            guard case .array(let elements) = value else { return shape(path, "Expected an array", &issues) }
            if let maxItems, elements.count > maxItems { rule(path, "Must have at most \(maxItems) items", &issues) }
            if let minItems, elements.count < minItems { rule(path, "Must have at least \(minItems) items", &issues) }
            for (index, element) in elements.enumerated() {
                items.check(element, at: "\(path)[\(index)]", into: &issues)
            }
        case .object(let properties, let additional):
            guard case .object(let object) = value else { return shape(path, "Expected an object", &issues) }
            let prefix = path.isEmpty ? "" : path + "."
            for member in object.members {
                if let property = properties.first(where: { $0.name == member.key }) {
                    property.schema.check(member.value, at: prefix + member.key, into: &issues)
                } else if let additional {
                    additional.check(member.value, at: prefix + member.key, into: &issues)
                } else {
                    shape(prefix + member.key, "Unknown field", &issues)
                }
            }
            for property in properties where property.required && object[property.name] == nil {
                rule(prefix + property.name, "Required", &issues)
            }
        }
    }

    /// Strings of at most this many characters (names, emails, SKUs, subjects, search terms) are
    /// one line: tab, line feed and carriage return are refused in them too.
    static let singleLineMaximum = 300

    /// Free-form values (`.any`, such as metadata) get the text rule on every string and member name.
    private static func checkText(in value: JSONValue, at path: String, into issues: inout [SchemaIssue]) {
        switch value {
        case .string(let string):
            if let problem = TextRule.problem(in: string, singleLine: false) {
                issues.append(SchemaIssue(severity: .rule, issue: FieldIssue(field: path.isEmpty ? "body" : path, message: problem)))
            }
        case .array(let elements):
            for (index, element) in elements.enumerated() { checkText(in: element, at: "\(path)[\(index)]", into: &issues) }
        case .object(let object):
            let prefix = path.isEmpty ? "" : path + "."
            for member in object.members {
                if let problem = TextRule.problem(in: member.key, singleLine: true) {
                    issues.append(
                        SchemaIssue(severity: .rule, issue: FieldIssue(field: prefix + member.key, message: "Member name: " + problem)))
                }
                checkText(in: member.value, at: prefix + member.key, into: &issues)
            }
        default:
            break
        }
    }

    private func checkString(_ string: String, at path: String, into issues: inout [SchemaIssue]) {
        // JSON Schema counts lengths in code points, not in grapheme clusters as `String.count` does.
        let length = string.unicodeScalars.count
        let singleLine = format != nil || (maxLength ?? Int.max) <= Self.singleLineMaximum
        if let problem = TextRule.problem(in: string, singleLine: singleLine) { return rule(path, problem, &issues) }
        if let allowed, !allowed.contains(string) {
            return rule(path, "Must be one of: \(allowed.joined(separator: ", "))", &issues)
        }
        if let minLength, length < minLength {
            rule(path, minLength == 1 ? "Must not be empty" : "Must be at least \(minLength) characters", &issues)
        }
        if let maxLength, length > maxLength { rule(path, "Must be at most \(maxLength) characters", &issues) }
        if let format {
            switch format {
            case "email" where !Validators.isEmail(string): rule(path, "Invalid email address", &issues)
            case "date-time" where Validators.parseDateTime(string) == nil:
                rule(path, "Must be an ISO 8601 date-time", &issues)
            case "date" where !Validators.isDate(string): rule(path, "Must be a date (YYYY-MM-DD)", &issues)
            case "uuid" where UUID(uuidString: string) == nil: rule(path, "Must be a UUID", &issues)
            case "uri" where !Validators.isHTTPURL(string): rule(path, "Must be an http(s) URL", &issues)
            default: break
            }
        }
        if let pattern, format != "uri", string.range(of: pattern, options: .regularExpression) == nil {
            rule(path, "Does not match the required pattern", &issues)
        }
    }
}

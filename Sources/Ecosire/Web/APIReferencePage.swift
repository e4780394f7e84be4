import Foundation

/// What the reference templates show, built from the reference model.
enum APIReferencePage {
    static func index(_ reference: APIReference) -> [String: Any] {
        [
            "tags": reference.tags.map { tag -> [String: Any] in
                [
                    "name": tag.name, "anchor": tag.anchor, "description": tag.description, "count": tag.operations.count,
                    "operations": tag.operations.map(summary),
                ]
            },
            "operationCount": reference.tags.reduce(0) { $0 + $1.operations.count },
        ]
    }

    static func summary(_ entry: APIReference.Entry) -> [String: Any] {
        [
            "id": entry.id, "method": entry.method.uppercased(), "methodClass": "method-" + entry.method, "path": entry.path,
            "summary": entry.summary,
        ]
    }

    static func operation(_ reference: APIReference, _ entry: APIReference.Entry) -> [String: Any] {
        let table = SchemaTable(reference: reference)
        let samples = APIReferenceSamples(reference: reference, entry: entry)
        let object = entry.object
        var context = summary(entry)
        context["tag"] = entry.tag
        context["tagAnchor"] = APIReference.Tag(name: entry.tag, description: "", operations: []).anchor
        if let description = object["description"]?.stringValue { context["description"] = description }
        if let role = object["x-required-role"]?.stringValue { context["role"] = role }
        if let scope = object["x-required-scope"]?.stringValue { context["scope"] = scope }
        context["public"] = samples.isPublic
        context["deprecated"] = object["deprecated"]?.boolValue == true

        let parameters = samples.parameters.map { parameter -> [String: Any] in
            let schema = parameter["schema"] ?? .null
            return [
                "name": parameter["name"]?.stringValue ?? "", "in": parameter["in"]?.stringValue ?? "",
                "type": table.typeName(schema), "required": parameter["required"]?.boolValue == true,
                "description": parameter["description"]?.stringValue ?? "", "rules": table.rules(schema),
            ]
        }
        context["parameters"] = parameters
        context["hasParameters"] = !parameters.isEmpty

        if let body = samples.body {
            let rows = table.rows(body.schema).map(\.templateValue)
            var bodyContext: [String: Any] = [
                "mediaType": body.mediaType, "rows": rows, "hasRows": !rows.isEmpty,
                "example": body.mediaType == "application/json" ? body.example.prettyString() : "",
                "required": object["requestBody"]?["required"]?.boolValue == true,
            ]
            if let name = APIReference.refName(body.schema) { bodyContext["schema"] = name }
            context["body"] = bodyContext
        }

        let codes = object["x-error-codes"]?.objectValue ?? JSONObject()
        let responses = (object["responses"]?.objectValue?.members ?? []).sorted { $0.key < $1.key }.map { status, raw -> [String: Any] in
            let response = reference.resolveResponse(raw)
            let media = response["content"]?.objectValue?.members.first
            let errorCodes = (codes[status]?.arrayValue ?? []).compactMap(\.stringValue).map { ["code": $0] }
            var value: [String: Any] = [
                "status": status, "description": response["description"]?.stringValue ?? "", "success": status.hasPrefix("2"),
                "codes": errorCodes, "hasCodes": !errorCodes.isEmpty,
            ]
            if let media {
                value["mediaType"] = media.key
                if let schema = media.value["schema"] {
                    value["type"] = table.typeName(schema)
                    if let name = APIReference.refName(schema) ?? APIReference.refName(schema["items"]) { value["schema"] = name }
                    if status.hasPrefix("2") {
                        let rows = table.rows(schema).map(\.templateValue)
                        value["rows"] = rows
                        value["hasRows"] = !rows.isEmpty
                    }
                }
                if let example = media.value["example"] { value["example"] = example.prettyString() }
            }
            return value
        }
        context["responses"] = responses

        context["curl"] = samples.curl
        context["typescript"] = samples.typescript
        context["swift"] = samples.swift
        context["sdkNamespace"] = samples.namespace
        context["sdkMethod"] = samples.method

        context["try"] = [
            "method": entry.method.uppercased(), "path": entry.path,
            "pathParameters": samples.pathParameters.map { ["name": $0] },
            "queryParameters": samples.parameters.filter { $0["in"]?.stringValue == "query" }.map { parameter -> [String: Any] in
                ["name": parameter["name"]?.stringValue ?? "", "required": parameter["required"]?.boolValue == true]
            },
            "hasBody": samples.body?.mediaType == "application/json",
            "body": samples.body.map { $0.mediaType == "application/json" ? $0.example.prettyString() : "" } ?? "",
            "idempotent": samples.takesIdempotencyKey,
        ]
        return context
    }

    static func schema(_ reference: APIReference, name: String) -> [String: Any]? {
        guard let schema = reference.schemas[name] else { return nil }
        let table = SchemaTable(reference: reference)
        let rows = table.rows(schema).map(\.templateValue)
        var context: [String: Any] = ["name": name, "type": table.typeName(schema), "rows": rows, "hasRows": !rows.isEmpty]
        if let description = schema["description"]?.stringValue { context["description"] = description }
        if schema["enum"] != nil { context["rules"] = table.rules(schema) }
        if let example = schema["example"] { context["example"] = example.prettyString() }
        let users = reference.tags.flatMap(\.operations).filter { entry in
            // Operations whose body or answers name the schema.
            let text = [entry.object["requestBody"], entry.object["responses"]].compactMap { $0?.prettyString() }.joined()
            return text.contains("\"#/components/schemas/\(name)\"")
        }
        context["usedBy"] = users.map(summary)
        context["hasUsers"] = !users.isEmpty
        return context
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SQLKit
import SwiftCSV

/// A table column that points at a contact; merging moves these rows to the surviving contact.
/// Modules with contact-linked records (orders, invoices, tickets) add theirs.
public struct ContactReference: Sendable {
    public var table: String
    public var column: String
    /// A column holding the contact's `{id, name, email}` snapshot beside the id, rewritten to
    /// the surviving contact's.
    public var snapshot: String?
    public init(table: String, column: String, snapshot: String? = nil) {
        self.table = table
        self.column = column
        self.snapshot = snapshot
    }

    /// Every contact-linked table of the server, for `ContactsModule`.
    static let all: [ContactReference] = [
        ContactReference(table: "orders", column: "contact_id", snapshot: "contact"),
        // An issued invoice keeps the billed party as it was.
        ContactReference(table: "invoices", column: "contact_id"),
        ContactReference(table: "helpdesk_tickets", column: "contact_id", snapshot: "contact"),
        ContactReference(table: "crm_leads", column: "contact_id"),
        ContactReference(table: "crm_opportunities", column: "contact_id", snapshot: "contact"),
    ]
}

/// Contacts: CRUD from the resource helper, plus merge, CSV import and the activity timeline.
struct ContactsModule: Module {
    let platform: Platform
    let references: [ContactReference]
    let activity: ContactActivityLog
    let resource: Resource
    let store: ResourceStore

    init(platform: Platform, references: [ContactReference] = []) {
        self.platform = platform
        self.references = [ContactReference(table: "contact_activities", column: "contact_id")] + references
        let activity = ContactActivityLog(database: platform.database, clock: platform.clock)
        self.activity = activity
        self.resource = ContactResource.resource { change, sql, organizationID in
            switch change {
            case .created(let record):
                try await activity.record(
                    sql, organizationID: organizationID, contactID: record["id"]?.stringValue ?? "", kind: "created",
                    summary: "Contact created")
            case .updated(let before, let after):
                let changed = ContactResource.fields.map(\.name).filter { before[$0] != after[$0] }
                guard !changed.isEmpty else { return }
                try await activity.record(
                    sql, organizationID: organizationID, contactID: after["id"]?.stringValue ?? "", kind: "updated",
                    summary: "Updated " + changed.joined(separator: ", "), data: .object(["fields": .array(changed.map { .string($0) })])
                )
            case .deleted(let record):
                try await sql.raw("DELETE FROM contact_activities WHERE contact_id = \(bind: record["id"]?.stringValue ?? "")").run()
            }
        }
        self.store = ResourceStore(resource: resource, database: platform.database, clock: platform.clock)
    }

    var eventTypes: [EventType] { resource.eventTypes }

    func register(on api: APIRouter) {
        ResourceRoutes(resource: resource, store: store).register(on: api)

        api.add(
            Operation(
                .post, "/api/contacts/merge", id: "mergeContacts", tag: "Contacts", summary: "Merge a duplicate into a contact",
                description:
                    "Moves the duplicate's related records (activity, and orders, invoices and tickets as those modules link them) to the primary, fills the primary's empty fields from the duplicate, unites their tags, and deletes the duplicate. One transaction.",
                access: .authenticated(minimumRole: .member),
                body: .json(
                    Schema.object([.init("primaryId", .uuid, required: true), .init("duplicateId", .uuid, required: true)]).named(
                        "MergeContactsRequest")),
                responses: [ResponseSpec(200, "The surviving contact", schema: resource.recordSchema)],
                errors: [404, 409]
            )
        ) { input in try await merge(input) }

        api.add(
            Operation(
                .post, "/api/contacts/import", id: "importContacts", tag: "Contacts", summary: "Import contacts from CSV",
                description:
                    "CSV with a header row. Columns: name, email, phone, type, website, tags (separated by ';'), street, city, state, zip, country. A row whose email matches an existing contact updates it; otherwise it creates one. Each row is all-or-nothing; the report lists every row.",
                access: .authenticated(minimumRole: .member),
                body: .text(
                    mediaType: "text/csv", description: "CSV with a header row",
                    example: "name,email,type,tags\nAda Lovelace,ada@example.com,person,vip;math\n"),
                responses: [ResponseSpec(200, "Per-row report", schema: Self.importReportSchema)]
            )
        ) { input in try await importCSV(input) }

        api.add(
            Operation(
                .get, "/api/contacts/{id}/activity", id: "listContactActivity", tag: "Contacts", summary: "A contact's timeline",
                description:
                    "Newest first: creation, changes, merges, and the orders, invoices, tickets, emails and notes linked to the contact.",
                query: Array(ListQuery.parameters(sortable: ["occurredAt"], searchable: []).prefix(2)),
                responses: [ResponseSpec(200, "One page of activity", schema: ContactActivityLog.listSchema)]
            )
        ) { input in
            let caller = try input.caller
            let id = input.path("id")
            guard try await store.get(organizationID: caller.organizationID, id: id) != nil else {
                throw APIError.notFound("Contact not found")
            }
            let query = ListQuery(input)
            let (entries, total) = try await activity.list(
                organizationID: caller.organizationID, contactID: id, page: query.page, limit: query.limit)
            return .json(PageMeta.envelope(entries, total: total, query: query))
        }
    }

    // MARK: Merge

    private func merge(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let primaryID = input.object["primaryId"]!.stringValue!.lowercased()
        let duplicateID = input.object["duplicateId"]!.stringValue!.lowercased()
        guard primaryID != duplicateID else {
            throw APIError.validation(field: "duplicateId", "Must differ from primaryId")
        }
        let organizationID = caller.organizationID
        let references = self.references
        let store = self.store
        let activity = self.activity
        let merged = try await platform.database.transaction { sql -> JSONValue in
            guard let primary = try await store.fetch(sql, organizationID: organizationID, id: primaryID) else {
                throw APIError(
                    .notFound, code: "NOT_FOUND", message: "Primary contact not found",
                    details: [FieldIssue(field: "primaryId", message: "Not found")])
            }
            guard let duplicate = try await store.fetch(sql, organizationID: organizationID, id: duplicateID) else {
                throw APIError(
                    .notFound, code: "NOT_FOUND", message: "Duplicate contact not found",
                    details: [FieldIssue(field: "duplicateId", message: "Not found")])
            }
            let survivor: JSONValue = [
                "id": .string(primaryID), "name": primary["name"] ?? .null,
                "email": primary["email"].flatMap { $0.isNull ? nil : $0 } ?? duplicate["email"] ?? .null,
            ]
            for reference in references {
                let snapshot: SQLQueryString =
                    reference.snapshot.map { ", \(ident: $0) = \(bind: survivor.jsonString)" } ?? ""
                try await sql.raw(
                    """
                    UPDATE \(ident: reference.table) SET \(ident: reference.column) = \(bind: primaryID)\(snapshot)
                    WHERE \(ident: reference.column) = \(bind: duplicateID) AND organization_id = \(bind: organizationID)
                    """
                ).run()
            }
            _ = try await store.delete(sql, organizationID: organizationID, id: duplicateID)
            var patch = JSONObject()
            for field in ContactResource.fields where field.name != "tags" {
                if primary[field.name]?.isNull ?? true, let value = duplicate[field.name], !value.isNull { patch[field.name] = value }
            }
            let primaryTags = primary["tags"]?.arrayValue ?? []
            let extraTags = (duplicate["tags"]?.arrayValue ?? []).filter { !primaryTags.contains($0) }
            if !extraTags.isEmpty { patch["tags"] = .array(primaryTags + extraTags) }
            let result = try await store.update(sql, organizationID: organizationID, id: primaryID, body: patch) ?? primary
            try await activity.record(
                sql, organizationID: organizationID, contactID: primaryID, kind: "merged",
                summary: "Merged \(duplicate["name"]?.stringValue ?? "a duplicate") into this contact",
                data: .object(["duplicateId": .string(duplicateID), "duplicate": duplicate])
            )
            return result
        }
        return .json(merged)
    }

    // MARK: Import

    static let importColumns = ["name", "email", "phone", "type", "website", "tags", "street", "city", "state", "zip", "country"]
    static let maxImportRows = 10_000

    static let importReportSchema = Schema.object([
        .init("created", .integer(minimum: 0), required: true),
        .init("updated", .integer(minimum: 0), required: true),
        .init("failed", .integer(minimum: 0), required: true),
        .init(
            "rows",
            .array(
                Schema.object([
                    .init("row", Schema.integer(minimum: 2).describe("Line number in the file (the header is line 1)"), required: true),
                    .init("status", .enumeration(["created", "updated", "failed"]), required: true),
                    .init("id", .uuid),
                    .init(
                        "errors",
                        .array(Schema.object([.init("field", .string(), required: true), .init("message", .string(), required: true)]))),
                ])
            ), required: true
        ),
    ]).named("ContactImportReport")

    private func importCSV(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let text = input.text ?? ""
        let csv: EnumeratedCSV
        do {
            csv = try EnumeratedCSV(string: text, loadColumns: false)
        } catch {
            throw APIError.badRequest("The CSV could not be parsed")
        }
        let header = csv.header.map { $0.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }
        if let unknown = header.first(where: { !Self.importColumns.contains($0) }) {
            throw APIError.badRequest(
                "Unknown CSV column \"\(unknown)\"",
                details: [FieldIssue(field: unknown, message: "Unknown column; allowed: \(Self.importColumns.joined(separator: ", "))")]
            )
        }
        guard header.contains("name") else {
            throw APIError.badRequest("The CSV needs a name column", details: [FieldIssue(field: "name", message: "Missing column")])
        }
        guard csv.rows.count <= Self.maxImportRows else {
            throw APIError.badRequest("At most \(Self.maxImportRows) rows per import")
        }
        var created = 0, updated = 0, failed = 0
        var report: [JSONValue] = []
        for (index, cells) in csv.rows.enumerated() {
            let line = index + 2
            if cells.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            let object = Self.contactObject(header: header, cells: cells)
            let issues = resource.createSchema.validate(.object(object))
            guard issues.isEmpty else {
                failed += 1
                report.append(Self.rowReport(line, "failed", errors: issues.map(\.issue)))
                continue
            }
            do {
                if let email = object["email"]?.stringValue?.lowercased(),
                    let existing = try await existingContact(organizationID: caller.organizationID, email: email)
                {
                    _ = try await store.update(organizationID: caller.organizationID, id: existing, body: object)
                    updated += 1
                    report.append(Self.rowReport(line, "updated", id: existing))
                } else {
                    let record = try await store.create(organizationID: caller.organizationID, body: object)
                    created += 1
                    report.append(Self.rowReport(line, "created", id: record["id"]?.stringValue))
                }
            } catch let error as APIError {
                failed += 1
                report.append(
                    Self.rowReport(
                        line, "failed", errors: error.details.isEmpty ? [FieldIssue(field: "row", message: error.message)] : error.details))
            }
        }
        let summary: JSONObject = [
            "created": .int(Int64(created)), "updated": .int(Int64(updated)), "failed": .int(Int64(failed)),
        ]
        var result = summary
        result["rows"] = .array(report)
        return .json(.object(result))
    }

    private func existingContact(organizationID: String, email: String) async throws -> String? {
        try await platform.database.read { sql in
            try await sql.raw("SELECT id FROM contacts WHERE organization_id = \(bind: organizationID) AND email = \(bind: email)").first()?
                .decode(column: "id", as: String.self)
        }
    }

    static func contactObject(header: [String], cells: [String]) -> JSONObject {
        var object = JSONObject()
        var address = JSONObject()
        for (column, rawCell) in zip(header, cells) {
            let cell = rawCell.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !cell.isEmpty else { continue }
            switch column {
            case "tags":
                object["tags"] = .array(
                    cell.split(separator: ";").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 != "" })
            case "street", "city", "state", "zip", "country":
                address[column] = .string(cell)
            default:
                object[column] = .string(cell)
            }
        }
        if !address.members.isEmpty { object["address"] = .object(address) }
        return object
    }

    static func rowReport(_ line: Int, _ status: String, id: String? = nil, errors: [FieldIssue] = []) -> JSONValue {
        var object: JSONObject = ["row": .int(Int64(line)), "status": .string(status)]
        if let id { object["id"] = .string(id) }
        if !errors.isEmpty {
            object["errors"] = .array(errors.map { .object(["field": .string($0.field), "message": .string($0.message)]) })
        }
        return .object(object)
    }
}

import HTTPTypes

/// Registers the five CRUD operations of a `Resource`: list, create, get, update (PATCH), delete.
public struct ResourceRoutes: Sendable {
    public let resource: Resource
    public let store: ResourceStore

    public init(resource: Resource, store: ResourceStore) {
        self.resource = resource
        self.store = store
    }

    /// The path of one record.
    public var itemPath: String { resource.path + "/{id}" }

    /// The five operations, for registering a subset (a read-only log, a list without create).
    public enum Route: Sendable, CaseIterable {
        case list, create, get, update, delete
    }

    /// Registers the list operation at `path` with operation id `id`: the collection's own path,
    /// or a second path the public documentation uses (`GET /api/helpdesk/sla` for SLA policies).
    public func registerList(on api: APIRouter, path: String, id: String, readRole: Role = .viewer, description: String? = nil) {
        let resource = self.resource
        let store = self.store
        api.add(
            Operation(
                .get, path, id: id, tag: resource.tag,
                summary: "List \(resource.plural.lowercased())", description: description,
                access: .authenticated(minimumRole: readRole),
                query: ListQuery.parameters(sortable: resource.sortable, searchable: resource.searchable, defaultSort: resource.defaultSort)
                    + resource.filters.map(\.parameter),
                responses: [ResponseSpec(200, "One page of \(resource.plural.lowercased())", schema: resource.listSchema)]
            )
        ) { input in
            let caller = try input.caller
            try await resource.beforeRead?(caller.organizationID)
            let query = ListQuery(input, defaultSort: resource.defaultSort.field, defaultDescending: resource.defaultSort.descending)
            let (page, total) = try await store.list(organizationID: caller.organizationID, query: query, filters: input.query)
            return PageMeta.envelope(page: page, total: total, query: query)
        }
    }

    /// Registers `routes` (all five by default). Reads need `readRole`, writes `writeRole`.
    public func register(
        on api: APIRouter, writeRole: Role = .member, readRole: Role = .viewer, routes: Set<Route> = Set(Route.allCases)
    ) {
        let resource = self.resource
        let store = self.store
        let lowercase = resource.singular.lowercased()
        let idParameterNote = "Records of other organizations answer 404."

        if routes.contains(.list) {
            registerList(on: api, path: resource.path, id: "list\(resource.plural)", readRole: readRole)
        }

        if routes.contains(.create) {
            api.add(
                Operation(
                    .post, resource.path, id: "create\(resource.singular)", tag: resource.tag,
                    summary: "Create a \(lowercase)", access: .authenticated(minimumRole: writeRole),
                    body: .json(resource.createSchema, example: resource.example),
                    responses: [
                        ResponseSpec(
                            201, "The created \(lowercase)", schema: resource.recordSchema, headers: ["Location": "URL of the new record"])
                    ],
                    errors: resource.fields.contains(where: \.unique) || resource.conflictsOnChange ? [409] : []
                )
            ) { input in
                let caller = try input.caller
                let record = try await store.create(organizationID: caller.organizationID, body: input.object)
                return .created(record, location: "\(resource.path)/\(record["id"]?.stringValue ?? "")")
            }
        }

        if routes.contains(.get) {
            api.add(
                Operation(
                    .get, itemPath, id: "get\(resource.singular)", tag: resource.tag, summary: "Get a \(lowercase)",
                    description: idParameterNote, access: .authenticated(minimumRole: readRole),
                    responses: [ResponseSpec(200, "The \(lowercase)", schema: resource.recordSchema)]
                )
            ) { input in
                let caller = try input.caller
                try await resource.beforeRead?(caller.organizationID)
                guard let record = try await store.get(organizationID: caller.organizationID, id: input.path("id")) else {
                    throw APIError.notFound("\(resource.singular) not found")
                }
                return .json(record)
            }
        }

        if routes.contains(.update) {
            api.add(
                Operation(
                    .patch, itemPath, id: "update\(resource.singular)", tag: resource.tag, summary: "Update a \(lowercase)",
                    description: "Only the fields present change; optional fields can be cleared with null. " + idParameterNote,
                    access: .authenticated(minimumRole: writeRole), body: .json(resource.updateSchema),
                    responses: [ResponseSpec(200, "The updated \(lowercase)", schema: resource.recordSchema)],
                    errors: resource.fields.contains(where: \.unique) || resource.conflictsOnChange ? [409] : []
                )
            ) { input in
                let caller = try input.caller
                guard let record = try await store.update(organizationID: caller.organizationID, id: input.path("id"), body: input.object)
                else {
                    throw APIError.notFound("\(resource.singular) not found")
                }
                return .json(record)
            }
        }

        if routes.contains(.delete) {
            api.add(
                Operation(
                    .delete, itemPath, id: "delete\(resource.singular)", tag: resource.tag, summary: "Delete a \(lowercase)",
                    description: idParameterNote, access: .authenticated(minimumRole: writeRole),
                    responses: [ResponseSpec(204, "Deleted")], errors: resource.conflictsOnChange ? [409] : []
                )
            ) { input in
                let caller = try input.caller
                guard try await store.delete(organizationID: caller.organizationID, id: input.path("id")) else {
                    throw APIError.notFound("\(resource.singular) not found")
                }
                return .noContent
            }
        }
    }
}

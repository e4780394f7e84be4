import Foundation
import Hummingbird
import NIOPosix
import Synchronization

/// The API reference compiled into the binary: `/docs/reference` lists every operation by tag,
/// `/docs/reference/{operationId}` shows one (parameters, bodies, answers, error codes, the role
/// and scope it needs, samples in cURL, TypeScript and Swift, and a form that sends it), and
/// `/docs/reference/schemas/{name}` one schema. Server-rendered from the served OpenAPI document;
/// readable without JavaScript (only the form needs it) and without the internet.
struct APIReferenceModule: Module {
    let pages: PageRenderer
    let api: APIRouter
    let documents: DocumentCache
    private let model = ReferenceCache()

    func register(on api: APIRouter) {
        api.add(
            Operation(
                .get, "/docs/reference", id: "apiReference", tag: "Docs", summary: "API reference", access: .open,
                responses: [ResponseSpec(200, "HTML")], undocumented: true)
        ) { _ in
            let reference = try await model.reference(documents, api: self.api)
            return try pages.page("reference", APIReferencePage.index(reference))
        }
        api.add(
            Operation(
                .get, "/docs/reference/schemas/{name}", id: "apiReferenceSchema", tag: "Docs", summary: "API reference: a schema",
                access: .open, responses: [ResponseSpec(200, "HTML")], undocumented: true)
        ) { input in
            let reference = try await model.reference(documents, api: self.api)
            guard let context = APIReferencePage.schema(reference, name: input.path("name")) else {
                throw APIError.notFound("No schema \(input.path("name"))")
            }
            return try pages.page("reference-schema", context)
        }
        api.add(
            Operation(
                .get, "/docs/reference/{operationId}", id: "apiReferenceOperation", tag: "Docs", summary: "API reference: an operation",
                access: .open, responses: [ResponseSpec(200, "HTML")], undocumented: true)
        ) { input in
            let reference = try await model.reference(documents, api: self.api)
            guard let entry = reference.operation(input.path("operationId")) else {
                throw APIError.notFound("No operation \(input.path("operationId"))")
            }
            return try pages.page("reference-operation", APIReferencePage.operation(reference, entry))
        }
    }
}

/// The reference model, parsed once from the document on the blocking-work pool.
private final class ReferenceCache: Sendable {
    private let value = Mutex<APIReference?>(nil)

    func reference(_ documents: DocumentCache, api: APIRouter) async throws -> APIReference {
        if let cached = value.withLock({ $0 }) { return cached }
        let json = try await documents.json(api)
        let reference = try await NIOThreadPool.singleton.runIfActive { try APIReference(document: JSONValue.parse(json)) }
        value.withLock { $0 = reference }
        return reference
    }
}

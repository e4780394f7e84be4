import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import SQLKit

/// Products: CRUD from the resource helper, variants as a nested resource, and the product files
/// that license holders download.
struct ProductsModule: Module {
    let platform: Platform
    let licenses: LicenseService
    let resource: Resource
    let store: ResourceStore
    let variants: ResourceStore

    /// Where uploaded archives live: `<data dir>/product-files/<organization>/<product>/<file id>.zip`.
    var filesDirectory: String { (platform.config.dataDirectory as NSString).appendingPathComponent("product-files") }

    init(platform: Platform, licenses: LicenseService) {
        self.platform = platform
        self.licenses = licenses
        let clock = platform.clock
        self.resource = ProductResources.product { change, sql, organizationID in
            switch change {
            case .created(let record), .updated(_, let record):
                try await SearchIndex.upsert(
                    sql, organizationID: organizationID, ProductResources.searchDocument(record), now: clock.nowMillis())
                return
            case .deleted(let record):
                try await SearchIndex.remove(sql, sourceID: record["id"]?.stringValue ?? "")
            }
            guard case .deleted(let record) = change, let id = record["id"]?.stringValue else { return }
            if try await licenses.count(sql, productID: id) > 0 {
                throw APIError.conflict("The product has licenses; it cannot be deleted (take it out of stock instead)")
            }
            try await sql.raw("DELETE FROM product_variants WHERE product_id = \(bind: id)").run()
            try await sql.raw("DELETE FROM product_files WHERE product_id = \(bind: id)").run()
        }
        self.store = ResourceStore(resource: resource, database: platform.database, clock: platform.clock)
        self.variants = ResourceStore(resource: ProductResources.variant, database: platform.database, clock: platform.clock)
    }

    var eventTypes: [EventType] {
        resource.eventTypes + ProductResources.variant.eventTypes + [
            EventType(
                "product_file.created", description: "A new file version of a product was uploaded.",
                trigger: "POST /api/admin/product-files/upload.", schema: Self.fileSchema)
        ]
    }

    func register(on api: APIRouter) {
        ResourceRoutes(resource: resource, store: store).register(on: api, writeRole: .admin)
        registerVariants(on: api)
        registerFiles(on: api)
    }

    private func requireProduct(_ organizationID: String, _ id: String) async throws {
        guard try await store.get(organizationID: organizationID, id: id) != nil else { throw APIError.notFound("Product not found") }
    }

    // MARK: Variants

    private func registerVariants(on api: APIRouter) {
        let variant = ProductResources.variant
        let variants = self.variants
        let itemPath = "/api/products/{id}/variants/{variantId}"
        api.add(
            Operation(
                .get, variant.path, id: "listProductVariants", tag: "Products", summary: "List a product's variants",
                query: ListQuery.parameters(sortable: variant.sortable, searchable: variant.searchable),
                responses: [ResponseSpec(200, "One page of variants", schema: variant.listSchema)]
            )
        ) { input in
            let caller = try input.caller
            let productID = input.path("id")
            try await requireProduct(caller.organizationID, productID)
            let query = ListQuery(input)
            var filters = input.query
            filters["productId"] = productID
            let (page, total) = try await variants.list(organizationID: caller.organizationID, query: query, filters: filters)
            return PageMeta.envelope(page: page, total: total, query: query)
        }
        api.add(
            Operation(
                .post, variant.path, id: "createProductVariant", tag: "Products", summary: "Add a variant to a product",
                access: .authenticated(minimumRole: .admin), body: .json(variant.createSchema, example: variant.example),
                responses: [ResponseSpec(201, "The variant", schema: variant.recordSchema, headers: ["Location": "URL of the variant"])],
                errors: [409]
            )
        ) { input in
            let caller = try input.caller
            let productID = input.path("id")
            try await requireProduct(caller.organizationID, productID)
            let record = try await variants.create(
                organizationID: caller.organizationID, body: input.object, preset: ["productId": .string(productID)])
            return .created(record, location: "/api/products/\(productID)/variants/\(record["id"]?.stringValue ?? "")")
        }
        api.add(
            Operation(
                .patch, itemPath, id: "updateProductVariant", tag: "Products", summary: "Update a variant",
                access: .authenticated(minimumRole: .admin), body: .json(variant.updateSchema),
                responses: [ResponseSpec(200, "The variant", schema: variant.recordSchema)], errors: [409]
            )
        ) { input in
            let caller = try input.caller
            try await requireVariant(caller.organizationID, productID: input.path("id"), variantID: input.path("variantId"))
            guard
                let record = try await variants.update(
                    organizationID: caller.organizationID, id: input.path("variantId"), body: input.object)
            else { throw APIError.notFound("Variant not found") }
            return .json(record)
        }
        api.add(
            Operation(
                .delete, itemPath, id: "deleteProductVariant", tag: "Products", summary: "Delete a variant",
                access: .authenticated(minimumRole: .admin), responses: [ResponseSpec(204, "Deleted")]
            )
        ) { input in
            let caller = try input.caller
            try await requireVariant(caller.organizationID, productID: input.path("id"), variantID: input.path("variantId"))
            _ = try await variants.delete(organizationID: caller.organizationID, id: input.path("variantId"))
            return .noContent
        }
    }

    private func requireVariant(_ organizationID: String, productID: String, variantID: String) async throws {
        guard let record = try await variants.get(organizationID: organizationID, id: variantID),
            record["productId"]?.stringValue == productID
        else { throw APIError.notFound("Variant not found") }
    }

    // MARK: Files

    static let fileSchema = Schema.object([
        .init("id", .uuid, required: true), .init("productId", .uuid, required: true), .init("version", .string(), required: true),
        .init("filename", .string(), required: true), .init("size", .integer(minimum: 0), required: true),
        .init("checksum", Schema.string().describe("sha256:<hex> of the archive"), required: true),
        .init("downloadUrl", .string(), required: true), .init("createdAt", .dateTime, required: true),
    ]).named("ProductFile")

    static let uploadSchema = Schema.object([
        .init("productId", .uuid, required: true),
        .init("version", Schema.string(minLength: 1, maxLength: 50).matching("^[0-9A-Za-z][0-9A-Za-z.+_-]*$"), required: true),
        .init("file", Schema.string(format: "binary").describe("A ZIP archive, at most 50 MiB"), required: true),
    ]).named("ProductFileUpload")

    private func registerFiles(on api: APIRouter) {
        api.add(
            Operation(
                .post, "/api/admin/product-files/upload", id: "uploadProductFile", tag: "Products", summary: "Upload a product archive",
                description:
                    "multipart/form-data with productId, version and file (a ZIP archive, at most 50 MiB by default, UPLOAD_LIMIT_BYTES). The SHA-256 is stored and returned; the archive is kept under the data directory.",
                access: .authenticated(minimumRole: .admin),
                body: .raw(Self.uploadSchema, mediaType: "multipart/form-data", description: "The archive and what it is"),
                responses: [ResponseSpec(201, "The stored file", schema: Self.fileSchema, headers: ["Location": "Download URL"])],
                errors: [404, 409, 413, 415, 422]
            )
        ) { input in try await upload(input) }

        api.add(
            Operation(
                .get, "/api/products/{id}/files", id: "listProductFiles", tag: "Products", summary: "A product's downloadable files",
                description:
                    "For holders of a valid license of the product (and admins). Versions released after a license's updates period are not listed for it. Newest first, in the standard {data, meta} envelope.",
                query: ListQuery.pageParameters,
                responses: [
                    ResponseSpec(
                        200, "One page of files, newest first",
                        schema: Schema.object([
                            .init("data", .array(Self.fileSchema), required: true), .init("meta", PageMeta.schema, required: true),
                        ]).named("ProductFileList"))
                ],
                codes: ["LICENSE_REQUIRED"]
            )
        ) { input in
            let caller = try input.caller
            let productID = input.path("id")
            let query = ListQuery(input)
            try await requireProduct(caller.organizationID, productID)
            let updatesUntil = try await downloadWindow(caller, productID: productID)
            let visible: SQLQueryString = """
                organization_id = \(bind: caller.organizationID) AND product_id = \(bind: productID)
                  AND created_at <= \(bind: updatesUntil ?? Int64.max)
                """
            let (files, total) = try await platform.database.read { sql in
                let files = try await sql.raw(
                    """
                    SELECT id, product_id, version, filename, size, sha256, created_at FROM product_files WHERE \(visible)
                    ORDER BY created_at DESC, id DESC \(query.limitClause)
                    """
                ).all().map(Self.fileJSON)
                let total =
                    try await sql.raw("SELECT COUNT(*) AS n FROM product_files WHERE \(visible)").first()?.decode(
                        column: "n", as: Int.self) ?? 0
                return (files, total)
            }
            return .json(PageMeta.envelope(files, total: total, query: query))
        }

        api.add(
            Operation(
                .get, "/api/products/{id}/files/{fileId}/download", id: "downloadProductFile", tag: "Products",
                summary: "Download a product archive",
                description: "For holders of a valid license of the product (and admins). `X-Checksum-SHA256` carries the stored checksum.",
                responses: [
                    ResponseSpec(
                        200, "The archive", schema: Schema.string(format: "binary"), mediaType: "application/zip",
                        headers: ["Content-Disposition": "attachment; filename=…", "X-Checksum-SHA256": "Hex SHA-256 of the archive"])
                ],
                codes: ["LICENSE_REQUIRED", "LICENSE_UPDATES_EXPIRED"]
            )
        ) { input in
            let caller = try input.caller
            let productID = input.path("id")
            try await requireProduct(caller.organizationID, productID)
            let updatesUntil = try await downloadWindow(caller, productID: productID)
            let row = try await platform.database.read { sql in
                try await sql.raw(
                    """
                    SELECT filename, sha256, storage_path, created_at FROM product_files
                    WHERE organization_id = \(bind: caller.organizationID) AND product_id = \(bind: productID) AND id = \(bind: input.path("fileId"))
                    """
                ).first()
            }
            guard let row else { throw APIError.notFound("File not found") }
            if let updatesUntil, try row.decode(column: "created_at", as: Int64.self) > updatesUntil {
                throw APIError(
                    .forbidden, code: "LICENSE_UPDATES_EXPIRED", message: "This version was released after your license's updates period")
            }
            let path = (filesDirectory as NSString).appendingPathComponent(try row.decode(column: "storage_path", as: String.self))
            let body = try await FileIO(threadPool: .singleton).loadFile(path: path, context: input.context)
            var headers = HTTPFields()
            headers[.contentType] = "application/zip"
            // Reduced again: rows stored before names were reduced at upload keep what the client sent.
            let stored = try row.decode(column: "filename", as: String.self)
            headers[.contentDisposition] = ContentDisposition.attachment(filename: SafeFileName.reduce(stored, fallback: "download.zip"))
            headers[HTTPField.Name("X-Checksum-SHA256")!] = try row.decode(column: "sha256", as: String.self)
            return Response(status: .ok, headers: headers, body: body)
        }
    }

    /// Admins see every file. Others need a valid license; the result is the end of its updates
    /// period (nil: unlimited).
    private func downloadWindow(_ caller: Caller, productID: String) async throws -> Int64? {
        if caller.role >= .admin { return nil }
        guard
            let license = try await licenses.validLicense(
                organizationID: caller.organizationID, userID: caller.userID, productID: productID)
        else {
            throw APIError(.forbidden, code: "LICENSE_REQUIRED", message: "A valid license for this product is required")
        }
        return license.updatesUntil
    }

    static func fileJSON(_ row: any SQLRow) throws -> JSONValue {
        let id = try row.decode(column: "id", as: String.self)
        let productID = try row.decode(column: "product_id", as: String.self)
        return .object([
            "id": .string(id), "productId": .string(productID), "version": .string(try row.decode(column: "version", as: String.self)),
            "filename": .string(try row.decode(column: "filename", as: String.self)),
            "size": .int(try row.decode(column: "size", as: Int64.self)),
            "checksum": .string("sha256:" + (try row.decode(column: "sha256", as: String.self))),
            "downloadUrl": .string("/api/products/\(productID)/files/\(id)/download"),
            "createdAt": .string(Timestamp.iso(millis: try row.decode(column: "created_at", as: Int64.self))),
        ])
    }

    private func upload(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let upload = try await MultipartUpload.receive(
            input.request, fileField: "file", directory: filesDirectory, limit: platform.config.uploadLimitBytes)
        var stored = false
        defer { if !stored, let path = upload.temporaryPath { try? FileManager.default.removeItem(atPath: path) } }
        // The text parts against the same schema the document shows.
        var fields = JSONObject()
        for (name, value) in upload.fields.sorted(by: { $0.key < $1.key }) { fields[name] = .string(value) }
        fields["file"] = upload.temporaryPath == nil ? nil : .string("(binary)")
        try Self.uploadSchema.enforce(.object(fields))
        guard let temporary = upload.temporaryPath else { throw APIError.validation(field: "file", "Required") }
        guard Self.isZip(path: temporary) else { throw APIError.validation(field: "file", "Must be a ZIP archive") }
        let productID = upload.fields["productId"]!.lowercased()
        let version = upload.fields["version"]!
        try await requireProductField(caller.organizationID, productID)
        let id = UUIDv7.generate()
        let relative = "\(caller.organizationID)/\(productID)/\(id).zip"
        let destination = (filesDirectory as NSString).appendingPathComponent(relative)
        try FileManager.default.createDirectory(
            atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: temporary, toPath: destination)
        stored = true
        // The client's name is data: its base name only, never a path (`../../etc/x.zip` → `x.zip`).
        let filename = SafeFileName.reduce(upload.filename ?? "", fallback: SafeFileName.reduce("\(version).zip", fallback: "archive.zip"))
        let now = platform.clock.nowMillis()
        do {
            let record = try await platform.database.transaction { sql -> JSONValue in
                try await sql.raw(
                    """
                    INSERT INTO product_files (id, organization_id, product_id, version, filename, size, sha256, storage_path, uploaded_by, created_at)
                    VALUES (\(bind: id), \(bind: caller.organizationID), \(bind: productID), \(bind: version), \(bind: filename),
                            \(bind: Int64(upload.size)), \(bind: upload.sha256), \(bind: relative), \(bind: caller.userID), \(bind: now))
                    """
                ).run()
                let row = try await sql.raw(
                    "SELECT id, product_id, version, filename, size, sha256, created_at FROM product_files WHERE id = \(bind: id)"
                ).first()
                let record = try Self.fileJSON(row!)
                try await EventOutbox(clock: platform.clock).record(
                    sql, organizationID: caller.organizationID, type: "product_file.created", object: record)
                return record
            }
            return .created(record, location: record["downloadUrl"]?.stringValue ?? "")
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            if DatabaseErrors.isUniqueViolation(error) {
                throw APIError.conflict(
                    "Version \(version) of this product was already uploaded",
                    details: [FieldIssue(field: "version", message: "Already in use")])
            }
            throw error
        }
    }

    private func requireProductField(_ organizationID: String, _ id: String) async throws {
        guard try await store.get(organizationID: organizationID, id: id) != nil else {
            throw APIError(
                .notFound, code: "NOT_FOUND", message: "Product not found", details: [FieldIssue(field: "productId", message: "Not found")])
        }
    }

    /// A ZIP archive starts with a local file header, or is empty (end of central directory).
    static func isZip(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let magic = [UInt8](handle.readData(ofLength: 4))
        return magic == [0x50, 0x4B, 0x03, 0x04] || magic == [0x50, 0x4B, 0x05, 0x06]
    }
}

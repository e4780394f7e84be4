import HTTPTypes
import Hummingbird
import NIOCore
import SQLKit

/// `page`, `limit`, `sortBy`, `sortOrder` and `search`, validated by the operation's query schema.
public struct ListQuery: Sendable {
    public var page: Int
    public var limit: Int
    public var sortBy: String
    public var descending: Bool
    public var search: String?

    public var offset: Int { (page - 1) * limit }

    /// `LIMIT n OFFSET m` for this page. The values are validated integers written as literals:
    /// SQLite prepares a statement twice when they are bound parameters (it re-plans once their
    /// values are known).
    public var limitClause: SQLQueryString {
        "LIMIT \(unsafeRaw: String(limit)) OFFSET \(unsafeRaw: String(offset))"
    }

    /// `ceil(total / limit)`, 0 when there is nothing.
    public func pageCount(total: Int) -> Int { total == 0 ? 0 : (total + limit - 1) / limit }

    /// The standard list parameters; `sortBy` lists the allowed values so a bad one is a 400 that
    /// names them.
    public static func parameters(
        sortable: [String], searchable: [String], defaultSort: (field: String, descending: Bool) = ("createdAt", true)
    ) -> [QueryParameter] {
        var parameters = [
            QueryParameter("page", Schema.integer(minimum: 1, maximum: 1_000_000).example(1), "Page number, 1-based"),
            QueryParameter("limit", Schema.integer(minimum: 1, maximum: 100).example(20), "Records per page, 1 to 100 (default 20)"),
            QueryParameter("sortBy", .enumeration(sortable), "Field to sort by (default \(defaultSort.field))"),
            QueryParameter(
                "sortOrder", .enumeration(["asc", "desc"]), "Sort direction (default \(defaultSort.descending ? "desc" : "asc"))"),
        ]
        if !searchable.isEmpty {
            parameters.append(
                QueryParameter(
                    "search", .string(maxLength: 200), "Case-insensitive substring match over \(searchable.joined(separator: ", "))")
            )
        }
        return parameters
    }

    /// Only `page` and `limit`: lists in a fixed order (an order's invoices, the event catalog).
    public static var pageParameters: [QueryParameter] {
        Array(parameters(sortable: ["createdAt"], searchable: []).prefix(2))
    }

    /// Reads the validated parameters.
    public init(_ input: APIInput, defaultSort: String = "createdAt", defaultDescending: Bool = true) {
        page = input.int("page") ?? 1
        limit = input.int("limit") ?? 20
        sortBy = input.query["sortBy"] ?? defaultSort
        descending = input.query["sortOrder"].map { $0 == "desc" } ?? defaultDescending
        search = input.query["search"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// The `meta` member of a list envelope.
public enum PageMeta {
    public static let schema = Schema.object([
        .init("total", .integer(minimum: 0), required: true),
        .init("page", .integer(minimum: 1), required: true),
        .init("limit", .integer(minimum: 1, maximum: 100), required: true),
        .init("totalPages", .integer(minimum: 0), required: true),
    ]).named("PageMeta")

    /// `{data, meta}` with `totalPages = ceil(total / limit)`.
    public static func envelope(_ data: [JSONValue], total: Int, query: ListQuery) -> JSONValue {
        .object(["data": .array(data), "meta": meta(total: total, query: query)])
    }

    /// The envelope of one page of a list held in memory (small fixed lists such as the event catalog).
    public static func envelope(slicing all: [JSONValue], query: ListQuery) -> JSONValue {
        let start = min(query.offset, all.count)
        let end = min(start + query.limit, all.count)
        return envelope(Array(all[start..<end]), total: all.count, query: query)
    }

    /// The same envelope around a page already written as a JSON array.
    public static func envelope(page: ByteBuffer, total: Int, query: ListQuery) -> Response {
        var body = ByteBufferAllocator().buffer(capacity: page.readableBytes + 96)
        body.writeStaticString("{\"data\":")
        body.writeImmutableBuffer(page)
        body.writeStaticString(",\"meta\":")
        meta(total: total, query: query).write(into: &body)
        body.writeInteger(UInt8(ascii: "}"))
        return .json(serialized: body)
    }

    static func meta(total: Int, query: ListQuery) -> JSONValue {
        .object([
            "total": .int(Int64(total)), "page": .int(Int64(query.page)), "limit": .int(Int64(query.limit)),
            "totalPages": .int(Int64(query.pageCount(total: total))),
        ])
    }
}

/// Every item of a paginated list, fetching one page at a time as iteration needs it.
///
/// ```swift
/// for try await contact in client.contacts.listAll(query: .init(limit: 100)) { … }
/// ```
///
/// Pages are read in order until the last page (`meta.totalPages`) or an empty one. With the
/// default sort (newest first, ties broken by id) every record that exists throughout the walk is
/// seen exactly once.
public struct PageSequence<Element: Sendable>: AsyncSequence, Sendable {
    public typealias Failure = any Error

    /// One page: its items and the number of pages the list has.
    public typealias Fetch = @Sendable (_ page: Int) async throws -> (items: [Element], totalPages: Int)

    let firstPage: Int
    let fetch: Fetch

    /// A sequence that starts at `firstPage` and reads pages with `fetch`.
    public init(firstPage: Int = 1, fetch: @escaping Fetch) {
        self.firstPage = firstPage
        self.fetch = fetch
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(page: firstPage, fetch: fetch)
    }

    /// Reads the next page when the current one is used up.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var page: Int
        let fetch: Fetch
        var buffer: [Element] = []
        var index = 0
        var finished = false

        public mutating func next() async throws -> Element? {
            while index >= buffer.count {
                if finished { return nil }
                let (items, totalPages) = try await fetch(page)
                buffer = items
                index = 0
                finished = items.isEmpty || page >= totalPages
                page += 1
            }
            defer { index += 1 }
            return buffer[index]
        }
    }
}

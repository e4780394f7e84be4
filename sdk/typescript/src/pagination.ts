/** One page of a list: `{data, meta}`. */
export interface Page<T> {
  data: T[];
  meta: { page: number; totalPages: number };
}

/**
 * Every item of a paginated list, fetching one page at a time as iteration needs it, until the
 * last page (`meta.totalPages`) or an empty one. With the default sort (newest first, ties broken
 * by id) every record that exists throughout the walk is seen exactly once.
 *
 * ```ts
 * for await (const contact of client.contacts.listAll({ limit: 100 })) console.log(contact.name);
 * ```
 */
export async function* paginate<T>(
  firstPage: number,
  fetchPage: (page: number) => Promise<Page<T>>,
): AsyncGenerator<T, void, undefined> {
  for (let page = firstPage;; page += 1) {
    const result = await fetchPage(page);
    yield* result.data;
    if (result.data.length === 0 || page >= result.meta.totalPages) return;
  }
}

import Ecosire
import Foundation
import HTTPTypes
import Testing

@Suite("Contacts")
struct ContactsTests {
    @Test("create answers 201 with Location; get, patch, delete; duplicate email is 409")
    func crud() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let created = try await client.post("/api/contacts", token: token, json: ContactFixtures.ada)
            #expect(created.status == .created)
            let id = try #require(created.json["id"]?.stringValue)
            #expect(created.header("Location") == "/api/contacts/\(id)")
            #expect(created.json["email"] == "ada@example.com")
            #expect(created.json["type"] == "person")
            #expect(created.json["tags"] == ["vip", "math"])
            #expect(created.json["address"]?["city"] == "London")
            #expect(created.json["createdAt"]?.stringValue?.hasSuffix("Z") == true)
            #expect(id.dropFirst(14).first == "7")  // UUIDv7

            #expect(try await client.get("/api/contacts/\(id)", token: token).json == created.json)
            // Lists write records straight from the rows; they must read the same as on their own.
            #expect(try await client.get("/api/contacts", token: token).json["data"] == [created.json])
            let patched = try await client.patch("/api/contacts/\(id)", token: token, json: ["phone": "+44 1", "website": nil])
            #expect(patched.status == .ok)
            #expect(patched.json["phone"] == "+44 1")
            #expect(patched.json["name"] == "Ada Lovelace")

            let clash = try await client.post("/api/contacts", token: token, json: ["name": "Other", "email": "ADA@example.com"])
            #expect(clash.status == .conflict)
            #expect(clash.json["details"]?.arrayValue?.first?["field"] == "email")

            #expect(try await client.delete("/api/contacts/\(id)", token: token).status == .noContent)
            #expect(try await client.get("/api/contacts/\(id)", token: token).status == .notFound)
            #expect(try await client.delete("/api/contacts/\(id)", token: token).status == .notFound)
        }
    }

    @Test("pagination meta arithmetic, including empty pages past the end")
    func paginationMeta() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let empty = try await client.get("/api/contacts", token: token)
            #expect(empty.json["meta"] == ["total": 0, "page": 1, "limit": 20, "totalPages": 0])
            for index in 1...7 { try await client.createContact(token, ["name": .string("Person \(index)")]) }
            let first = try await client.get("/api/contacts?limit=3", token: token)
            #expect(first.json["meta"] == ["total": 7, "page": 1, "limit": 3, "totalPages": 3])
            #expect(first.json["data"]?.arrayValue?.count == 3)
            #expect(try await client.get("/api/contacts?limit=3&page=3", token: token).json["data"]?.arrayValue?.count == 1)
            let past = try await client.get("/api/contacts?limit=3&page=9", token: token)
            #expect(past.status == .ok)
            #expect(past.json["data"] == [])
            #expect(past.json["meta"] == ["total": 7, "page": 9, "limit": 3, "totalPages": 3])
            // Default order is newest first.
            #expect(first.json["data"]?.arrayValue?.first?["name"] == "Person 7")
        }
    }

    @Test("ties in the sort key break by id so paging never repeats or skips")
    func stableTieBreak() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            var created: Set<String> = []
            for index in 0..<9 {
                let record = try await client.createContact(token, ["name": index % 2 == 0 ? "Same" : "Twin"])
                created.insert(try #require(record["id"]?.stringValue))
            }
            for order in ["asc", "desc"] {
                var seen: [String] = []
                for page in 1...5 {
                    let response = try await client.get("/api/contacts?sortBy=name&sortOrder=\(order)&limit=2&page=\(page)", token: token)
                    seen += response.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                }
                #expect(seen.count == 9)
                #expect(Set(seen) == created)
                let names =
                    try await client.get("/api/contacts?sortBy=name&sortOrder=\(order)&limit=100", token: token).json["data"]?.arrayValue?
                    .compactMap { $0["name"]?.stringValue } ?? []
                #expect(names == (order == "asc" ? names.sorted() : names.sorted(by: >)))
            }
        }
    }

    @Test("bad list parameters are 400s that say what is allowed")
    func parameterRules() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let badSort = try await client.get("/api/contacts?sortBy=password", token: token)
            #expect(badSort.status == .badRequest)
            #expect(
                badSort.json["details"]?.arrayValue?.first?["message"]?.stringValue?.contains("name, email, createdAt, updatedAt") == true)
            for query in ["limit=0", "limit=101", "page=0", "page=abc", "sortOrder=up", "unknown=1", "type=robot"] {
                let response = try await client.get("/api/contacts?\(query)", token: token)
                #expect(response.status == .badRequest, "\(query): \(response.text)")
                #expect(response.json["code"] == "BAD_REQUEST")
            }
            #expect(try await client.get("/api/contacts?limit=100", token: token).status == .ok)
            for query in ["search=%zz", "search=%E2%82", "search=50%"] {
                let response = try await client.get("/api/contacts?\(query)", token: token)
                #expect(response.status == .badRequest, "\(query): \(response.text)")
                #expect(response.json["details"]?[0]?["field"] == "search", "\(query): \(response.text)")
                #expect(response.json["details"]?[0]?["message"] == "Invalid percent-encoding")
            }
        }
    }

    @Test("search is a case-insensitive substring of name or email; type and tag filter")
    func searchAndFilters() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            try await client.createContact(token, ["name": "Ada Lovelace", "email": "ada@analytical.org", "tags": ["vip"]])
            try await client.createContact(token, ["name": "Charles Babbage", "email": "charles@engine.org", "tags": ["vip", "inventor"]])
            try await client.createContact(token, ["name": "Engine Works", "type": "company", "tags": ["supplier"]])
            try await client.createContact(token, ["name": "100% Real_Name", "tags": ["odd"]])
            func names(_ query: String) async throws -> [String] {
                let response = try await client.get("/api/contacts?sortBy=name&sortOrder=asc&\(query)", token: token)
                #expect(response.status == .ok, "\(query): \(response.text)")
                return response.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            }
            #expect(try await names("search=ENGINE") == ["Charles Babbage", "Engine Works"])
            #expect(try await names("search=lovelace") == ["Ada Lovelace"])
            #expect(try await names("search=%25") == ["100% Real_Name"])
            #expect(try await names("search=_") == ["100% Real_Name"])
            // Form encoding, as browsers and Python's requests send it: `+` is a space, `%2B` a plus.
            #expect(try await names("search=ada+lovelace") == ["Ada Lovelace"])
            #expect(try await names("search=ada%20lovelace") == ["Ada Lovelace"])
            #expect(try await names("search=%2B") == [])
            #expect(try await names("%73earch=babbage") == ["Charles Babbage"], "names are decoded too")
            #expect(try await names("type=company") == ["Engine Works"])
            #expect(try await names("tag=vip") == ["Ada Lovelace", "Charles Babbage"])
            #expect(try await names("tag=vip&search=charles") == ["Charles Babbage"])
            #expect(try await names("tag=vi") == [])
            let meta = try await client.get("/api/contacts?tag=vip", token: token).json["meta"]
            #expect(meta?["total"] == 2)
        }
    }

    @Test("another organization's contact is a 404 on every route")
    func tenancyIsolation() async throws {
        try await TestServer.run { client, _ in
            let alice = try await client.register().token
            let bob = try await client.register().token
            let secret = try await client.createContact(alice, ["name": "Alice's client", "email": "client@example.com"])
            let id = try #require(secret["id"]?.stringValue)
            #expect(try await client.get("/api/contacts/\(id)", token: bob).status == .notFound)
            #expect(try await client.patch("/api/contacts/\(id)", token: bob, json: ["name": "Hijacked"]).status == .notFound)
            #expect(try await client.delete("/api/contacts/\(id)", token: bob).status == .notFound)
            #expect(try await client.get("/api/contacts/\(id)/activity", token: bob).status == .notFound)
            let merge = try await client.post(
                "/api/contacts/merge", token: bob,
                json: ["primaryId": .string(id), "duplicateId": .string(id.replacingOccurrences(of: "7", with: "8"))])
            #expect(merge.status == .notFound || merge.status == .unprocessableContent)
            #expect(try await client.get("/api/contacts", token: bob).json["meta"]?["total"] == 0)
            // Emails are unique per organization, not globally.
            #expect(
                try await client.post("/api/contacts", token: bob, json: ["name": "Mine", "email": "client@example.com"]).status == .created
            )
            #expect(try await client.get("/api/contacts/\(id)", token: alice).json["name"] == "Alice's client")
        }
    }

    @Test("merge moves activity, fills gaps, unites tags and deletes the duplicate")
    func merge() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let primary = try await client.createContact(token, ["name": "Ada", "tags": ["vip"]])
            let duplicate = try await client.createContact(
                token, ["name": "Ada L.", "email": "ada@example.com", "phone": "+44 2", "tags": ["vip", "math"]])
            let primaryID = try #require(primary["id"]?.stringValue)
            let duplicateID = try #require(duplicate["id"]?.stringValue)
            _ = try await client.patch("/api/contacts/\(duplicateID)", token: token, json: ["phone": "+44 3"])
            let duplicateActivity =
                try await client.get("/api/contacts/\(duplicateID)/activity", token: token).json["meta"]?["total"]?.intValue ?? 0
            #expect(duplicateActivity == 2)

            let same = try await client.post(
                "/api/contacts/merge", token: token, json: ["primaryId": .string(primaryID), "duplicateId": .string(primaryID)])
            #expect(same.status == .unprocessableContent)

            let merged = try await client.post(
                "/api/contacts/merge", token: token, json: ["primaryId": .string(primaryID), "duplicateId": .string(duplicateID)])
            #expect(merged.status == .ok, "\(merged.text)")
            #expect(merged.json["id"]?.stringValue == primaryID)
            #expect(merged.json["name"] == "Ada")
            #expect(merged.json["email"] == "ada@example.com")
            #expect(merged.json["phone"] == "+44 3")
            #expect(merged.json["tags"] == ["vip", "math"])
            #expect(try await client.get("/api/contacts/\(duplicateID)", token: token).status == .notFound)

            let activity = try await client.get("/api/contacts/\(primaryID)/activity?limit=100", token: token)
            let types = activity.json["data"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
            #expect(types.first == "merged")
            // Primary's own "created", the duplicate's two moved entries, the fill-in update and the merge.
            #expect(types.filter { $0 == "created" }.count == 2)
            #expect(activity.json["meta"]?["total"]?.intValue == Int64(types.count))
            #expect(types.count == 5)

            let missing = try await client.post(
                "/api/contacts/merge", token: token, json: ["primaryId": .string(primaryID), "duplicateId": .string(duplicateID)])
            #expect(missing.status == .notFound)
        }
    }

    @Test("CSV import creates and updates good rows and reports bad ones with reasons")
    func csvImport() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            try await client.createContact(token, ["name": "Existing", "email": "existing@example.com"])
            let csv = """
                name,email,type,tags,city,country
                Grace Hopper,grace@example.com,person,navy;cobol,Arlington,US
                ,nameless@example.com,person,,,
                Bad Email,not-an-email,person,,,
                "Hopper, Inc.",,company,supplier,,
                Existing Renamed,EXISTING@example.com,,,Paris,FR
                Robot,robot@example.com,robot,,,

                """
            let response = try await client.request(
                .post, "/api/contacts/import", token: token, body: csv, headers: ["Content-Type": "text/csv"])
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.json["created"] == 2)
            #expect(response.json["updated"] == 1)
            #expect(response.json["failed"] == 3)
            let rows = response.json["rows"]?.arrayValue ?? []
            #expect(rows.map { $0["status"]?.stringValue ?? "" } == ["created", "failed", "failed", "created", "updated", "failed"])
            #expect(rows.map { $0["row"]?.intValue ?? 0 } == [2, 3, 4, 5, 6, 7])
            #expect(rows[1]["errors"]?.arrayValue?.first?["field"] == "name")
            #expect(rows[2]["errors"]?.arrayValue?.first?["field"] == "email")
            #expect(rows[5]["errors"]?.arrayValue?.first?["field"] == "type")

            let list = try await client.get("/api/contacts?sortBy=name&sortOrder=asc", token: token).json
            #expect(list["meta"]?["total"] == 3)
            let names = list["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(names == ["Existing Renamed", "Grace Hopper", "Hopper, Inc."])
            let grace = list["data"]?.arrayValue?.first { $0["name"] == "Grace Hopper" }
            #expect(grace?["tags"] == ["navy", "cobol"])
            #expect(grace?["address"]?["city"] == "Arlington")

            let badHeader = try await client.request(
                .post, "/api/contacts/import", token: token, body: "name,password\nx,y\n", headers: ["Content-Type": "text/csv"])
            #expect(badHeader.status == .badRequest)
            #expect(badHeader.json["details"]?.arrayValue?.first?["field"] == "password")
        }
    }
}

enum ContactFixtures {
    static let ada: JSONValue = [
        "name": "Ada Lovelace", "email": "Ada@Example.com", "phone": "+44 20 7946 0000", "website": "https://ada.example.com",
        "address": ["street": "12 St James's Square", "city": "London", "country": "GB"], "tags": ["vip", "math"],
    ]
}

import Foundation
import NIOPosix
import Synchronization

/// Each form of the document is built once, on its first request, after every route is
/// registered; the JSON does not wait for the (much slower) YAML. Building takes a good fraction of
/// a second of CPU, so it runs on the blocking-work pool and never holds up other requests.
final class DocumentCache: Sendable {
    private let json = Mutex<Data?>(nil)
    private let yaml = Mutex<String?>(nil)

    func json(_ api: APIRouter) async throws -> Data {
        if let value = json.withLock({ $0 }) { return value }
        let operations = api.operations
        let value = try await NIOThreadPool.singleton.runIfActive { try OpenAPIDocumentBuilder(operations: operations).jsonData() }
        json.withLock { $0 = value }
        return value
    }

    func yaml(_ api: APIRouter) async throws -> String {
        if let value = yaml.withLock({ $0 }) { return value }
        let operations = api.operations
        let value = try await NIOThreadPool.singleton.runIfActive { try OpenAPIDocumentBuilder(operations: operations).yaml() }
        yaml.withLock { $0 = value }
        return value
    }
}

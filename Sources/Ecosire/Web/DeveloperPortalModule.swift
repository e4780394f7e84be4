import Foundation
import HTTPTypes
import Hummingbird

/// The developer portal at `/developers`: the quick start, the SDK snippets of the six common
/// operations (the code the SDK tests run), the rate-limit table from this server's configuration
/// and the error reference from the codes the server produces. Readable without JavaScript.
struct DeveloperPortalModule: Module {
    let platform: Platform
    let pages: PageRenderer

    func register(on api: APIRouter) {
        api.add(
            Operation(
                .get, "/developers", id: "developerPortal", tag: "Docs", summary: "Developer portal", access: .open,
                responses: [ResponseSpec(200, "HTML")], undocumented: true)
        ) { _ in
            try pages.page("developers", context())
        }
        api.add(
            Operation(
                .get, "/static/{name}", id: "pageAsset", tag: "Docs", summary: "The pages' stylesheet and script", access: .open,
                responses: [ResponseSpec(200, "CSS or JavaScript")], undocumented: true)
        ) { input in
            guard let response = PageRenderer.asset(input.path("name")) else {
                throw APIError(.notFound, code: "NOT_FOUND", message: "No such file")
            }
            return response
        }
    }

    /// What the portal shows; everything comes from the running server's code and configuration.
    func context() -> [String: Any] {
        let settings = platform.config.rateLimits
        return [
            "baseURL": platform.config.publicURL,
            "snippets": SDKSnippet.all.map { snippet -> [String: Any] in
                [
                    "number": snippet.number, "name": snippet.name, "title": snippet.title, "swift": snippet.swift,
                    "typescript": snippet.typescript,
                ]
            },
            "windowSeconds": settings.windowSeconds,
            "rateLimits": RateLimitClass.all.map { rateClass -> [String: Any] in
                [
                    "routes": rateClass.routes, "limit": settings.limit(for: rateClass),
                    "subject": rateClass.subject == .caller ? "caller (API key, else user)" : "client IP",
                ]
            },
            "errors": ErrorCatalog.entries.map { entry -> [String: Any] in
                ["code": entry.code, "status": entry.status, "meaning": entry.meaning]
            },
        ]
    }
}

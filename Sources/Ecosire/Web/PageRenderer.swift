import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore

/// Renders the server's HTML pages from the Mustache templates compiled into the binary, and
/// serves their stylesheet. Pages load nothing from other origins and run no inline script.
struct PageRenderer: Sendable {
    /// The pages' Content-Security-Policy: own styles, images and scripts only.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    /// Every template, by the name pages render it with.
    static let templates: [(String, [UInt8])] = [
        ("layout", PackageResources.layout_mustache),
        ("developers", PackageResources.developers_mustache),
        ("status", PackageResources.status_mustache),
    ]

    private let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, bytes) in Self.templates {
            library.register(try MustacheTemplate(string: String(decoding: bytes, as: UTF8.self)), named: name)
        }
        self.library = library
    }

    /// A page rendered from `template` with `context` (HTML-escaped by Mustache's `{{ }}`).
    func page(_ template: String, _ context: [String: Any]) throws -> Response {
        guard let html = library.render(context, withTemplate: template) else {
            throw APIError(.internalServerError, code: "INTERNAL", message: "No template \(template)")
        }
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: html)))
        response.headers[.contentType] = "text/html; charset=utf-8"
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The stylesheet.
    static func stylesheet() -> Response {
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.site_css)))
        response.headers[.contentType] = "text/css; charset=utf-8"
        response.headers[.cacheControl] = "public, max-age=300"
        return response
    }
}

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
        ("reference", PackageResources.reference_mustache),
        ("reference-operation", PackageResources.reference_operation_mustache),
        ("reference-schema", PackageResources.reference_schema_mustache),
        ("reference-fields", PackageResources.reference_fields_mustache),
        ("dashboard-nav", PackageResources.dashboard_nav_mustache),
        ("dashboard-error", PackageResources.dashboard_error_mustache),
        ("sign-in", PackageResources.sign_in_mustache),
        ("forgot-password", PackageResources.forgot_password_mustache),
        ("reset-password", PackageResources.reset_password_mustache),
        ("api-keys", PackageResources.api_keys_mustache),
        ("api-key-revoke", PackageResources.api_key_revoke_mustache),
        ("api-key-usage", PackageResources.api_key_usage_mustache),
        ("webhooks", PackageResources.webhooks_mustache),
        ("webhook-fields", PackageResources.webhook_fields_mustache),
        ("webhook", PackageResources.webhook_mustache),
        ("licenses", PackageResources.licenses_mustache),
        ("pager", PackageResources.pager_mustache),
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

    /// The stylesheet and the pages' one script, by file name.
    static let assets: [String: (bytes: [UInt8], contentType: String)] = [
        "site.css": (PackageResources.site_css, "text/css; charset=utf-8"),
        "app.js": (PackageResources.app_js, "text/javascript; charset=utf-8"),
        "try-it.js": (PackageResources.try_it_js, "text/javascript; charset=utf-8"),
    ]

    /// A static asset, or nil for an unknown name.
    static func asset(_ name: String) -> Response? {
        guard let asset = assets[name] else { return nil }
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
        response.headers[.contentType] = asset.contentType
        response.headers[.cacheControl] = "public, max-age=300"
        return response
    }
}

/// A file name offered by a client, reduced to a base name that is safe to store, show and hand
/// back in `Content-Disposition`: a client that saves a download under it stays in its folder.
public enum SafeFileName {
    /// Bytes of UTF-8 kept; file systems allow 255.
    public static let maximumBytes = 200

    /// The last path component of `offered` without control characters, leading dots or
    /// surrounding spaces, at most `maximumBytes` (the extension kept); `fallback` when nothing is left.
    public static func reduce(_ offered: String, fallback: String) -> String {
        let base = offered.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var cleaned = String(
            String.UnicodeScalarView(
                base.unicodeScalars.filter { scalar in
                    // C0, DEL, C1 and the Unicode line and paragraph separators.
                    !(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029)
                }))
        cleaned = String(cleaned.drop(while: { $0 == "." || $0.isWhitespace }))
        while let last = cleaned.last, last.isWhitespace || last == "." { cleaned.removeLast() }
        guard !cleaned.isEmpty else { return fallback }
        guard cleaned.utf8.count > maximumBytes else { return cleaned }
        // Keep a short extension and shorten the stem, on a character boundary.
        let dot = cleaned.lastIndex(of: ".")
        let suffix = dot.map { String(cleaned[$0...]) }.flatMap { $0.utf8.count <= 16 ? $0 : nil } ?? ""
        var stem = suffix.isEmpty ? cleaned : String(cleaned[..<dot!])
        while stem.utf8.count + suffix.utf8.count > maximumBytes { stem.removeLast() }
        return stem.isEmpty ? fallback : stem + suffix
    }
}

/// The name–value pairs of a URL query, decoded the way browsers, Python's `requests` and Stripe's
/// API read them: percent-escapes are decoded in names and values, and `+` is a space (a literal
/// plus is `%2B`). Hummingbird's own `queryParameters` keeps `+` and leaves names encoded.
public struct QueryString: Sendable {
    public var pairs: [(name: String, value: String)] = []
    /// Parts whose percent-escapes do not decode to UTF-8, named by their raw text.
    public var malformed: [String] = []

    public init(_ query: String?) {
        guard let query, !query.isEmpty else { return }
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring
            let value: Substring
            if let equals = part.firstIndex(of: "=") {
                name = part[..<equals]
                value = part[part.index(after: equals)...]
            } else {
                name = part
                value = ""
            }
            guard let decodedName = Self.decode(name), let decodedValue = Self.decode(value) else {
                malformed.append(String(name))
                continue
            }
            pairs.append((decodedName, decodedValue))
        }
    }

    /// The first value given for `name`.
    public subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

    /// Form decoding of one name or value; nil when an escape is not two hex digits or the bytes are not UTF-8.
    static func decode(_ text: Substring) -> String? {
        // Most values (`limit=20`, ids) have nothing to decode.
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(Hex.value), let low = iterator.next().flatMap(Hex.value) else { return nil }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// `Content-Disposition` with a file name, as RFC 6266 has it: `filename` is an ASCII fallback for
/// old clients, and `filename*` carries the exact name in UTF-8 (RFC 8187). Nothing of the name can
/// break out of the header: every control character is replaced or percent-encoded.
public enum ContentDisposition {
    /// To save as `filename`.
    public static func attachment(filename: String) -> String { disposition("attachment", filename: filename) }

    /// To show in the browser, saved as `filename` if the user chooses to.
    public static func inline(filename: String) -> String { disposition("inline", filename: filename) }

    private static func disposition(_ type: String, filename: String) -> String {
        let fallback = String(
            String.UnicodeScalarView(
                filename.unicodeScalars.map { scalar in
                    scalar.isASCII && scalar.value >= 0x20 && scalar.value < 0x7F && scalar != "\"" && scalar != "\\" && scalar != "%"
                        ? scalar : "_"
                }))
        return "\(type); filename=\"\(fallback)\"; filename*=UTF-8''\(encoded(filename))"
    }

    /// RFC 8187 `value-chars`: attr-chars as they are, every other byte `%XX`.
    static func encoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if (byte < 0x80 && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)))
                || "!#$&+-.^_`|~".unicodeScalars.contains(scalar)
            {
                result.unicodeScalars.append(scalar)
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// A text-only PDF document laid out on A4 pages with the standard Helvetica fonts.
///
/// Hand-written (PDF 1.4, uncompressed) because no PDF library is available. Content is laid out as it is
/// added, so `render()` knows the page count for the "Page N of M" footers. The output holds no dates or
/// IDs: the same input always gives the same bytes.
public struct PDFDocument: Sendable {
    /// The width between the left and right margins, in points.
    public static let textWidth = pageWidth - 2 * margin

    private static let pageWidth = 595.0
    private static let pageHeight = 842.0
    private static let margin = 50.0
    private static let top = pageHeight - margin
    private static let lineSpacing = 1.3

    private enum Item: Sendable {
        case text(x: Double, y: Double, bytes: [UInt8], size: Double, bold: Bool)
        case rule(y: Double)
    }

    private let title: String
    private var pages: [[Item]] = [[]]
    /// The top of the next line, in PDF coordinates (origin at the bottom left).
    private var cursor = Self.top

    public init(title: String) {
        self.title = title
    }

    /// Adds a line of text at the current position; wraps to a new page when the page is full.
    ///
    /// Text wider than the text width is word-wrapped; `\n` starts a new line.
    public mutating func text(_ string: String, size: Double = 10, bold: Bool = false, indent: Double = 0) {
        for paragraph in string.split(separator: "\n", omittingEmptySubsequences: false) {
            let width = Self.textWidth - indent
            for line in Self.wrap(Self.winAnsi(String(paragraph)), width: width, size: size, bold: bold) {
                let y = reserve(size * Self.lineSpacing) - size
                pages[pages.count - 1].append(.text(x: Self.margin + indent, y: y, bytes: line, size: size, bold: bold))
            }
        }
    }

    /// A row of cells at fixed x offsets (points from the left margin); right-aligned cells for numbers.
    ///
    /// For a right-aligned cell, `x` is where the text ends rather than where it starts.
    public mutating func row(_ cells: [(text: String, x: Double, alignRight: Bool)], size: Double = 10, bold: Bool = false) {
        let y = reserve(size * Self.lineSpacing) - size
        for cell in cells {
            let bytes = Self.winAnsi(cell.text)
            let x = Self.margin + cell.x - (cell.alignRight ? Self.measure(bytes, size: size, bold: bold) : 0)
            pages[pages.count - 1].append(.text(x: x, y: y, bytes: bytes, size: size, bold: bold))
        }
    }

    /// Vertical space in points.
    ///
    /// Space that runs past the bottom margin is dropped rather than carried to the next page.
    public mutating func space(_ points: Double) {
        cursor = max(cursor - points, Self.margin)
    }

    /// A horizontal rule across the text width.
    public mutating func rule() {
        let y = reserve(8) - 4
        pages[pages.count - 1].append(.rule(y: y))
    }

    /// The finished file.
    public func render() -> [UInt8] {
        var out = Array("%PDF-1.4\n%".utf8) + [0xE2, 0xE3, 0xCF, 0xD3, 0x0A]  // binary marker for transfer tools
        var offsets: [Int] = []  // offsets[n - 1] is where object n starts
        func object(_ body: [UInt8]) {
            offsets.append(out.count)
            out += Array("\(offsets.count) 0 obj\n".utf8) + body + Array("\nendobj\n".utf8)
        }

        let kids = pages.indices.map { "\(6 + 2 * $0) 0 R" }.joined(separator: " ")
        object(Array("<< /Type /Catalog /Pages 2 0 R >>".utf8))
        object(Array("<< /Type /Pages /Kids [\(kids)] /Count \(pages.count) >>".utf8))
        for name in ["Helvetica", "Helvetica-Bold"] {
            object(Array("<< /Type /Font /Subtype /Type1 /BaseFont /\(name) /Encoding /WinAnsiEncoding >>".utf8))
        }
        // UTF-16BE with a byte-order mark is the one text-string encoding that holds any title.
        let title = self.title.utf16.map { String(("000" + String($0, radix: 16, uppercase: true)).suffix(4)) }.joined()
        object(Array("<< /Title <FEFF\(title)> /Producer (Ecosire) >>".utf8))

        for (index, items) in pages.enumerated() {
            var content: [UInt8] = []
            for item in items {
                switch item {
                case .text(let x, let y, let bytes, let size, let bold):
                    content += Self.textOp(x: x, y: y, bytes: bytes, size: size, bold: bold)
                case .rule(let y):
                    let (left, right, y) = (Self.number(Self.margin), Self.number(Self.pageWidth - Self.margin), Self.number(y))
                    content += Array("0.5 w \(left) \(y) m \(right) \(y) l S\n".utf8)
                }
            }
            let footer = Self.winAnsi("Page \(index + 1) of \(pages.count)")
            let footerX = (Self.pageWidth - Self.measure(footer, size: 8, bold: false)) / 2
            content += Self.textOp(x: footerX, y: Self.margin / 2, bytes: footer, size: 8, bold: false)

            object(
                Array(
                    ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> "
                        + "/Contents \(7 + 2 * index) 0 R >>").utf8))
            object(Array("<< /Length \(content.count) >>\nstream\n".utf8) + content + Array("\nendstream".utf8))
        }

        let xref = out.count
        out += Array("xref\n0 \(offsets.count + 1)\n0000000000 65535 f \n".utf8)
        for offset in offsets {
            let digits = String(offset)
            out += Array((String(repeating: "0", count: 10 - digits.count) + digits + " 00000 n \n").utf8)
        }
        out += Array("trailer\n<< /Size \(offsets.count + 1) /Root 1 0 R /Info 5 0 R >>\nstartxref\n\(xref)\n%%EOF\n".utf8)
        return out
    }

    // MARK: - Layout

    /// Takes `height` points below the cursor and returns the top of that band, breaking the page first when
    /// the band would cross the bottom margin (unless the page is still untouched, so oversized items cannot loop).
    private mutating func reserve(_ height: Double) -> Double {
        if cursor - height < Self.margin, cursor < Self.top {
            pages.append([])
            cursor = Self.top
        }
        defer { cursor -= height }
        return cursor
    }

    /// Greedy word wrap; a single word wider than `width` stays on its own (overlong) line.
    private static func wrap(_ bytes: [UInt8], width: Double, size: Double, bold: Bool) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var line: [UInt8]?
        for word in bytes.split(separator: 0x20, omittingEmptySubsequences: false) {
            let candidate = line.map { $0 + [0x20] + word } ?? Array(word)
            if let current = line, measure(candidate, size: size, bold: bold) > width {
                lines.append(current)
                line = Array(word)
            } else {
                line = candidate
            }
        }
        return lines + [line ?? []]
    }

    // MARK: - Encoding

    /// Unicode → WinAnsi: Latin-1 maps to itself, a few common typographic characters (€, dashes, quotes) to the
    /// 0x80–0x9F block, anything else to `?`.
    private static func winAnsi(_ string: String) -> [UInt8] {
        let extras: [UInt32: UInt8] = [
            0x20AC: 0x80, 0x2026: 0x85, 0x2018: 0x91, 0x2019: 0x92, 0x201C: 0x93, 0x201D: 0x94, 0x2022: 0x95, 0x2013: 0x96,
            0x2014: 0x97,
        ]
        return string.unicodeScalars.map { scalar in
            switch scalar.value {
            case 0x09: 0x20
            case 0x20...0x7E, 0xA0...0xFF: UInt8(scalar.value)
            default: extras[scalar.value] ?? 0x3F
            }
        }
    }

    /// One text-showing operation, with the string escaped for a PDF literal; non-ASCII bytes become octal escapes
    /// so content streams stay plain ASCII.
    private static func textOp(x: Double, y: Double, bytes: [UInt8], size: Double, bold: Bool) -> [UInt8] {
        var literal: [UInt8] = []
        for byte in bytes {
            switch byte {
            case 0x28, 0x29, 0x5C: literal += [0x5C, byte]
            case 0x80...: literal += Array(("\\" + String(byte, radix: 8)).utf8)
            default: literal.append(byte)
            }
        }
        let font = bold ? "F2" : "F1"
        return Array("BT /\(font) \(number(size)) Tf \(number(x)) \(number(y)) Td (".utf8) + literal + Array(") Tj ET\n".utf8)
    }

    /// Two decimals at most, no exponent, no trailing `.0`.
    private static func number(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    // MARK: - Metrics

    /// The width of WinAnsi bytes in points; non-ASCII characters are approximated as 556/1000 em.
    private static func measure(_ bytes: [UInt8], size: Double, bold: Bool) -> Double {
        let widths = bold ? boldWidths : regularWidths
        let units = bytes.reduce(0) { $0 + (0x20...0x7E ~= $1 ? widths[Int($1) - 0x20] : 556) }
        return Double(units) * size / 1000
    }

    /// Adobe AFM advance widths for WinAnsi codes 32–126 (39 is quotesingle, 96 is grave).
    private static let regularWidths: [Int] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556,
        556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556,
        556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
    ]
    private static let boldWidths: [Int] = [
        278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556,
        556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611,
        611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
    ]
}

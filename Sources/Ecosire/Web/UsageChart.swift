import Foundation

/// A bar chart of requests and errors per day, drawn on the server as SVG so that it needs no
/// script and no chart library. Colours are presentation attributes (allowed by the pages' CSP,
/// unlike `style` attributes); each bar has a `<title>` for screen readers and hover.
struct UsageChart {
    struct Day {
        var date: String
        var requests: Int
        var errors: Int
    }

    var days: [Day]

    static let width = 720.0
    static let height = 240.0
    private static let left = 48.0
    private static let bottom = 28.0
    private static let top = 12.0

    func svg() -> String {
        let plotWidth = Self.width - Self.left - 8
        let plotHeight = Self.height - Self.bottom - Self.top
        let peak = Self.niceCeiling(days.map(\.requests).max() ?? 0)
        let slot = plotWidth / Double(max(days.count, 1))
        let barWidth = max(slot * 0.7, 1)
        var parts: [String] = [
            "<svg class=\"chart\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" role=\"img\" aria-labelledby=\"chart-title\" xmlns=\"http://www.w3.org/2000/svg\">",
            "<title id=\"chart-title\">Requests and errors per day, \(escaped(days.first?.date ?? "")) to \(escaped(days.last?.date ?? ""))</title>",
        ]
        for step in 0...4 {
            let value = peak * step / 4
            let y = Self.top + plotHeight - plotHeight * Double(step) / 4
            parts.append(
                "<line x1=\"\(Self.left)\" x2=\"\(Self.width - 8)\" y1=\"\(format(y))\" y2=\"\(format(y))\" stroke=\"#d0d7de\" stroke-width=\"1\"/>"
            )
            parts.append(
                "<text x=\"\(Self.left - 6)\" y=\"\(format(y + 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#4b535c\">\(value)</text>")
        }
        for (index, day) in days.enumerated() {
            let x = Self.left + slot * Double(index) + (slot - barWidth) / 2
            let requestHeight = peak == 0 ? 0 : plotHeight * Double(day.requests) / Double(peak)
            let errorHeight = peak == 0 ? 0 : plotHeight * Double(day.errors) / Double(peak)
            let baseline = Self.top + plotHeight
            let label =
                "\(day.date): \(day.requests) request\(day.requests == 1 ? "" : "s"), \(day.errors) error\(day.errors == 1 ? "" : "s")"
            parts.append("<g><title>\(escaped(label))</title>")
            parts.append(
                "<rect class=\"requests\" x=\"\(format(x))\" y=\"\(format(baseline - requestHeight))\" width=\"\(format(barWidth))\" height=\"\(format(requestHeight))\" fill=\"#0b57d0\"/>"
            )
            if day.errors > 0 {
                parts.append(
                    "<rect class=\"errors\" x=\"\(format(x))\" y=\"\(format(baseline - errorHeight))\" width=\"\(format(barWidth))\" height=\"\(format(errorHeight))\" fill=\"#b3261e\"/>"
                )
            }
            parts.append("</g>")
        }
        if let first = days.first, let last = days.last {
            let y = Self.height - 8
            parts.append("<text x=\"\(Self.left)\" y=\"\(y)\" font-size=\"11\" fill=\"#4b535c\">\(escaped(first.date))</text>")
            parts.append(
                "<text x=\"\(Self.width - 8)\" y=\"\(y)\" text-anchor=\"end\" font-size=\"11\" fill=\"#4b535c\">\(escaped(last.date))</text>"
            )
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    /// The axis maximum: 1, 2 or 5 times a power of ten, and at least 4 so the gridlines are whole.
    static func niceCeiling(_ value: Int) -> Int {
        guard value > 4 else { return 4 }
        var magnitude = 1
        while magnitude * 10 <= value { magnitude *= 10 }
        for factor in [1, 2, 5, 10] where factor * magnitude >= value {
            let ceiling = factor * magnitude
            return ceiling % 4 == 0 ? ceiling : ceiling + (4 - ceiling % 4)
        }
        return value
    }

    private func format(_ value: Double) -> String { String(format: "%.1f", value) }

    private func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

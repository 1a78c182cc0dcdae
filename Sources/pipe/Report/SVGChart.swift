import Foundation
import PipeKit

/// Small self-contained SVG charts for the HTML report (no scripts, no network).
enum SVGChart {
    /// One named series of (x, y) points.
    struct Series {
        var name: String
        var points: [(Double, Double)]
        var color: String
        /// Drawn dashed (a pruned trial's curve).
        var dashed = false
    }

    static let palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"]

    /// A line chart with axes, ticks and a legend.
    static func lines(_ series: [Series], title: String, xLabel: String, yLabel: String, logY: Bool = false) -> String {
        let all = series.flatMap(\.points).filter { $0.1.isFinite && (!logY || $0.1 > 0) }
        guard !all.isEmpty else { return "" }
        let w = 640.0, h = 280.0, left = 60.0, right = 16.0, top = 28.0, bottom = 40.0
        let xs = all.map(\.0), ys = all.map { logY ? log10($0.1) : $0.1 }
        let (x0, x1) = (xs.min()!, max(xs.max()!, xs.min()! + 1e-9))
        var (y0, y1) = (ys.min()!, ys.max()!)
        if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
        let pad = (y1 - y0) * 0.05
        y0 -= pad; y1 += pad
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (w - left - right) }
        func py(_ y: Double) -> Double { top + (1 - ((logY ? log10(y) : y) - y0) / (y1 - y0)) * (h - top - bottom) }
        var svg = "<svg class=\"chart line-chart\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<text x=\"\(left)\" y=\"18\" class=\"chart-title\">\(escape(title))</text>"
        for i in 0...4 {
            let v = y0 + (y1 - y0) * Double(i) / 4, y = top + (1 - Double(i) / 4) * (h - top - bottom)
            svg += "<line x1=\"\(left)\" x2=\"\(w - right)\" y1=\"\(y)\" y2=\"\(y)\" class=\"grid\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\" class=\"tick\">\(format(logY ? pow(10, v) : v))</text>"
        }
        for i in 0...4 {
            let v = x0 + (x1 - x0) * Double(i) / 4
            svg += "<text x=\"\(px(v))\" y=\"\(h - bottom + 16)\" text-anchor=\"middle\" class=\"tick\">\(format(v))</text>"
        }
        svg += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 6)\" text-anchor=\"middle\" class=\"axis\">\(escape(xLabel))</text>"
        svg += "<text x=\"14\" y=\"\((top + h - bottom) / 2)\" transform=\"rotate(-90 14 \((top + h - bottom) / 2))\" text-anchor=\"middle\" class=\"axis\">\(escape(yLabel))</text>"
        for (i, s) in series.enumerated() {
            let points = s.points.filter { $0.1.isFinite && (!logY || $0.1 > 0) }
            guard !points.isEmpty else { continue }
            let path = points.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\" class=\"series\""
                + (s.dashed ? " stroke-dasharray=\"5 4\"" : "") + "/>"
            if points.count < 40 {
                for p in points { svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>", px(p.0), py(p.1), s.color) }
            }
            let lx = w - right - 170, ly = top + 14 + Double(i) * 16
            svg += "<rect x=\"\(lx)\" y=\"\(ly - 9)\" width=\"12\" height=\"4\" fill=\"\(s.color)\"/>"
            svg += "<text x=\"\(lx + 18)\" y=\"\(ly - 4)\" class=\"legend\">\(escape(s.name))</text>"
        }
        return svg + "</svg>"
    }

    /// Horizontal bars, one per label, with the value written beside each.
    static func bars(_ items: [(label: String, value: Double, note: String)], title: String) -> String {
        guard let top = items.map(\.value).max(), top > 0 else { return "" }
        let rowHeight = 26.0, left = 170.0, w = 640.0
        let h = 34 + rowHeight * Double(items.count)
        var svg = "<svg class=\"chart bar-chart\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<text x=\"8\" y=\"18\" class=\"chart-title\">\(escape(title))</text>"
        for (i, item) in items.enumerated() {
            let y = 30 + rowHeight * Double(i), width = max(1, item.value / top * (w - left - 150))
            svg += "<text x=\"\(left - 8)\" y=\"\(y + 15)\" text-anchor=\"end\" class=\"tick\">\(escape(item.label))</text>"
            svg += "<rect x=\"\(left)\" y=\"\(y + 3)\" width=\"\(width)\" height=\"16\" fill=\"\(palette[i % palette.count])\" class=\"bar\"/>"
            svg += "<text x=\"\(left + width + 6)\" y=\"\(y + 15)\" class=\"tick\">\(escape(item.note))</text>"
        }
        return svg + "</svg>"
    }

    /// Parallel coordinates: one vertical axis per column, one polyline per row, each row's line
    /// shaded by `shade` (0 the best, darkest, to 1 the worst, palest). A column whose values are
    /// all numbers is scaled from its lowest to its highest; any other column places its distinct
    /// values evenly, in sorted order.
    static func parallelCoordinates(columns: [String], rows: [[JSONValue]], shade: [Double], title: String) -> String {
        guard columns.count >= 2, !rows.isEmpty else { return "" }
        let w = 640.0, h = 310.0, left = 50.0, right = 90.0, top = 56.0, bottom = 40.0
        let gap = (w - left - right) / Double(columns.count - 1)
        var svg = "<svg class=\"chart parallel-coordinates\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<text x=\"8\" y=\"18\" class=\"chart-title\">\(escape(title))</text>"
        // Each column's place of a value, 0 (bottom) to 1 (top), and its end labels.
        var places: [(JSONValue) -> Double] = []
        for (c, name) in columns.enumerated() {
            let values = rows.map { $0[c] }
            let x = left + gap * Double(c)
            var low = "", high = ""
            let numbers = values.compactMap(\.doubleValue)
            if numbers.count == values.count {
                let (a, b) = (numbers.min()!, numbers.max()!)
                places.append { v in b > a ? ((v.doubleValue ?? a) - a) / (b - a) : 0.5 }
                (low, high) = (format(a), format(b))
            } else {
                let distinct = Array(Set(values.map(\.displayString))).sorted()
                places.append { v in distinct.count > 1 ? Double(distinct.firstIndex(of: v.displayString) ?? 0) / Double(distinct.count - 1) : 0.5 }
                (low, high) = (distinct.first ?? "", distinct.count > 1 ? distinct.last! : "")
            }
            svg += "<line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(top)\" y2=\"\(h - bottom)\" class=\"axis-line\" stroke=\"#9ca3af\"/>"
            svg += "<text x=\"\(x)\" y=\"\(top - 20)\" text-anchor=\"middle\" class=\"axis\">\(escape(name))</text>"
            svg += "<text x=\"\(x)\" y=\"\(h - bottom + 14)\" text-anchor=\"middle\" class=\"tick\">\(escape(low))</text>"
            svg += "<text x=\"\(x)\" y=\"\(top - 6)\" text-anchor=\"middle\" class=\"tick\">\(escape(high))</text>"
        }
        for (r, row) in rows.enumerated().sorted(by: { shade[$0.offset] > shade[$1.offset] }) {
            let path = row.enumerated().map { c, v in
                String(format: "%.1f,%.1f", left + gap * Double(c), top + (1 - places[c](v)) * (h - top - bottom))
            }.joined(separator: " ")
            let lightness = Int(30 + 55 * min(1, max(0, shade[r])))
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"hsl(221,83%,\(lightness)%)\" stroke-width=\"1.5\" class=\"series\"/>"
        }
        return svg + "</svg>"
    }

    static func format(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e6 { return String(format: "%.1fM", v / 1e6) }
        if a >= 1e4 { return String(format: "%.0fk", v / 1e3) }
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 1 { return String(format: "%.2f", v) }
        return String(format: "%.3g", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

import Foundation

/// Line charts rendered to PNG-ready rasters: training curves, ROC and calibration curves.
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public var label: String
        public var points: [(Double, Double)]
        public var color: Color
        public var dashed: Bool
        public init(_ label: String, _ points: [(Double, Double)], color: Color, dashed: Bool = false) {
            self.label = label; self.points = points; self.color = color; self.dashed = dashed
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Axis ranges; nil fits the data.
    public var xRange: (Double, Double)?
    public var yRange: (Double, Double)?
    /// Text lines drawn in the bottom-right of the plot area (e.g. "AUC 0.962").
    public var notes: [String] = []

    public init(title: String, xLabel: String, yLabel: String, series: [Series],
                xRange: (Double, Double)? = nil, yRange: (Double, Double)? = nil) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
        self.xRange = xRange; self.yRange = yRange
    }

    /// "Nice" tick values covering lo...hi (steps of 1, 2 or 5 × 10^k).
    static func ticks(_ lo: Double, _ hi: Double, target: Int = 6) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(target)
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var values: [Double] = []
        var v = (lo / step).rounded(.up) * step
        while v <= hi + step * 1e-9 { values.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        return values
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        var s = String(format: "%.3f", v)
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }

    /// Renders the chart into a canvas of the given size (white background).
    public func render(width: Int = 640, height: Int = 420) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        let all = series.flatMap(\.points)
        var (x0, x1) = xRange ?? (all.map(\.0).min() ?? 0, all.map(\.0).max() ?? 1)
        var (y0, y1) = yRange ?? (all.map(\.1).min() ?? 0, all.map(\.1).max() ?? 1)
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { let pad = max(abs(y0) * 0.05, 0.05); y0 -= pad; y1 += pad }
        if yRange == nil { let pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad }
        let left = 64, right = width - 16, top = 34, bottom = height - 48
        func px(_ x: Double) -> Double { Double(left) + (x - x0) / (x1 - x0) * Double(right - left) }
        func py(_ y: Double) -> Double { Double(bottom) - (y - y0) / (y1 - y0) * Double(bottom - top) }

        canvas.text(title, x: width / 2, y: 8, .black, anchor: .center)
        for t in Self.ticks(y0, y1) {
            let y = Int(py(t).rounded())
            canvas.fillRect(x: left, y: y, width: right - left, height: 1, .lightGrey)
            canvas.text(Self.format(t), x: left - 6, y: y - Canvas.lineHeight / 2, .black, anchor: .right)
        }
        for t in Self.ticks(x0, x1) {
            let x = Int(px(t).rounded())
            canvas.fillRect(x: x, y: top, width: 1, height: bottom - top, .lightGrey)
            canvas.text(Self.format(t), x: x, y: bottom + 4, .black, anchor: .center)
        }
        canvas.strokeRect(x: left, y: top, width: right - left + 1, height: bottom - top + 1, .grey)
        canvas.text(xLabel, x: (left + right) / 2, y: height - Canvas.lineHeight - 4, .black, anchor: .center)
        canvas.verticalText(yLabel, x: 12, y: (top + bottom) / 2)

        for s in series {
            let points = s.points.map { (px($0.0), py($0.1)) }
            if s.dashed {
                for (a, b) in zip(points, points.dropFirst()) {
                    let length = hypot(b.0 - a.0, b.1 - a.1)
                    let dashes = max(1, Int(length / 6))
                    for d in stride(from: 0, to: dashes, by: 2) {
                        let t0 = Double(d) / Double(dashes), t1 = Double(d + 1) / Double(dashes)
                        canvas.line(from: (a.0 + (b.0 - a.0) * t0, a.1 + (b.1 - a.1) * t0),
                                    to: (a.0 + (b.0 - a.0) * t1, a.1 + (b.1 - a.1) * t1), s.color, width: 1.2)
                    }
                }
            } else {
                canvas.polyline(points, s.color, width: 2)
            }
        }
        // Legend, top right inside the plot.
        var ly = top + 6
        for s in series where !s.label.isEmpty {
            let w = Canvas.textWidth(s.label)
            canvas.fillRect(x: right - w - 40, y: ly, width: w + 34, height: Canvas.lineHeight + 2, .white, alpha: 0.85)
            canvas.line(from: (Double(right - w - 34), Double(ly + Canvas.lineHeight / 2)),
                        to: (Double(right - w - 14), Double(ly + Canvas.lineHeight / 2)), s.color, width: 2)
            canvas.text(s.label, x: right - 8, y: ly, .black, anchor: .right)
            ly += Canvas.lineHeight + 2
        }
        var ny = bottom - 6 - notes.count * Canvas.lineHeight
        for note in notes {
            canvas.text(note, x: right - 8, y: ny, .black, anchor: .right)
            ny += Canvas.lineHeight
        }
        return canvas
    }
}

extension Canvas {
    /// Places canvases side by side on one canvas.
    public static func row(_ panels: [Canvas], gap: Int = 8) -> Canvas {
        let width = panels.reduce(0) { $0 + $1.width } + gap * max(0, panels.count - 1)
        let height = panels.map(\.height).max() ?? 1
        var out = Canvas(width: max(1, width), height: height)
        var x = 0
        for p in panels {
            out.draw(p.raster, x: x, y: 0)
            x += p.width + gap
        }
        return out
    }
}

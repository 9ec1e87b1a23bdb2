import Foundation
import Imaging

/// The pictures a screen produces: heatmap, overlay with legend and scale bar, tissue QC.
public enum Renderings {
    /// One pixel per cell: viridis on a fixed 0–1 scale; cells not screened are transparent.
    public static func heatmap(_ result: ScreenResult) -> Raster {
        heatmap(result) { Double(result.probabilities[$0]!) }
    }

    /// One pixel per cell, `value(cell)` in viridis for each screened cell.
    static func heatmap(_ result: ScreenResult, value: (Int) -> Double) -> Raster {
        let g = result.grid
        var out = Raster(width: g.columns, height: g.rows, channels: 4)
        for i in 0..<g.cellCount where result.probabilities[i] != nil {
            let c = Viridis.color(value(i))
            out.pixels[4 * i] = c.r; out.pixels[4 * i + 1] = c.g; out.pixels[4 * i + 2] = c.b; out.pixels[4 * i + 3] = 255
        }
        return out
    }

    /// A "nice" scale-bar length in µm, about a fifth of `widthMicrons`.
    static func scaleBarMicrons(widthMicrons: Double) -> Double {
        let target = widthMicrons / 5
        let candidates: [Double] = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000]
        return candidates.last { $0 <= target } ?? candidates[0]
    }

    /// How many regions the overlay numbers; all are outlined.
    public static let numberedRegions = 20

    /// The slide thumbnail with the heatmap blended over screened cells at or above `floor`
    /// (below it the stain shows through, so viridis's purple end is never mistaken for
    /// haematoxylin), the regions outlined and the top ones numbered by rank, a colour bar
    /// with the floor and threshold marked, a scale bar in mm and a title.
    public static func overlay(_ result: ScreenResult, regions: [Region] = [], floor: Double = 0.1, title: String, subtitle: String,
                               alpha: Double = 0.55) -> Canvas {
        let mask = result.mask, g = result.grid
        let thumb = mask.thumbnail
        let header = 2 * Canvas.lineHeight + 12, legendWidth = 150
        var canvas = Canvas(width: thumb.width + legendWidth, height: max(thumb.height + header, 400))
        canvas.text(title, x: 8, y: 4)
        canvas.text(subtitle, x: 8, y: 4 + Canvas.lineHeight + 2, .grey)
        var image = Canvas(thumb)
        shadeCells(&image, result, alpha: alpha) { cell in
            guard let p = result.probabilities[cell], Double(p) >= floor else { return nil }
            return Viridis.color(Double(p))
        }
        // Region outlines (white under black, readable on stain and on every viridis colour),
        // then numbers at each numbered region's top-left corner.
        func toThumb(_ p: [Double]) -> (Double, Double) { (p[0] / mask.downsampleX, p[1] / mask.downsampleY) }
        for r in regions {
            for ring in r.rings { image.polyline(ring.map(toThumb), .white, width: 3) }
            for ring in r.rings { image.polyline(ring.map(toThumb), .black, width: 1.2) }
        }
        for r in regions.prefix(numberedRegions).reversed() {
            let label = "\(r.id)"
            let (x, y) = toThumb(r.rings[0][0])  // the outline's top-left vertex
            let w = Canvas.textWidth(label) + 6, h = Canvas.lineHeight + 2
            let lx = max(0, min(thumb.width - w, Int(x) - w + 2)), ly = max(0, min(thumb.height - h, Int(y) - h + 2))
            image.fillRect(x: lx, y: ly, width: w, height: h, .white, alpha: 0.9)
            image.strokeRect(x: lx, y: ly, width: w, height: h, .black)
            image.text(label, x: lx + 3, y: ly + 1)
        }
        // Scale bar, bottom left, on a white box.
        let micronsPerThumbPixel = g.mppX * mask.downsampleX
        let barMicrons = scaleBarMicrons(widthMicrons: Double(thumb.width) * micronsPerThumbPixel)
        let barPixels = Int((barMicrons / micronsPerThumbPixel).rounded())
        let label = barMicrons >= 1000 ? "\(formatShort(barMicrons / 1000)) mm" : "\(Int(barMicrons)) µm"
        let boxW = max(barPixels, Canvas.textWidth(label)) + 16, boxH = Canvas.lineHeight + 18
        let bx = 8, by = thumb.height - boxH - 8
        image.fillRect(x: bx, y: by, width: boxW, height: boxH, .white, alpha: 0.85)
        image.fillRect(x: bx + 8, y: by + boxH - 12, width: barPixels, height: 5, .black)
        image.text(label, x: bx + 8, y: by + 3)
        canvas.draw(image.raster, x: 0, y: header)

        // Colour bar with ticks and the threshold.
        let barX = thumb.width + 24, barTop = header + 28, barHeight = min(260, max(120, thumb.height - 80))
        canvas.text("P(tumour)", x: barX - 8, y: header + 4)
        for yy in 0..<barHeight {
            let v = 1 - Double(yy) / Double(barHeight - 1)
            if v >= floor {
                canvas.fillRect(x: barX, y: barTop + yy, width: 22, height: 1, Viridis.color(v))
            } else {
                // Below the floor: not shaded, drawn as a light checkerboard.
                for xx in 0..<22 { canvas.fillRect(x: barX + xx, y: barTop + yy, width: 1, height: 1, ((xx / 4 + yy / 4) % 2 == 0) ? .lightGrey : .white) }
            }
        }
        canvas.strokeRect(x: barX, y: barTop, width: 22, height: barHeight, .grey)
        for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let y = barTop + Int((1 - v) * Double(barHeight - 1))
            canvas.fillRect(x: barX + 22, y: y, width: 5, height: 1, .black)
            canvas.text(formatShort(v), x: barX + 30, y: y - Canvas.lineHeight / 2)
        }
        let ty = barTop + Int((1 - result.threshold) * Double(barHeight - 1))
        canvas.fillRect(x: barX - 4, y: ty, width: 30, height: 2, .vermillion)
        canvas.text("threshold", x: barX - 4, y: barTop + barHeight + 8, .vermillion)
        canvas.text(String(format: "%.2f", result.threshold), x: barX - 4, y: barTop + barHeight + 8 + Canvas.lineHeight, .vermillion)
        let fy = barTop + Int((1 - floor) * Double(barHeight - 1))
        canvas.fillRect(x: barX - 4, y: fy, width: 30, height: 1, .grey)
        canvas.text("below " + String(format: "%.2f", floor) + ",", x: barX - 4, y: barTop + barHeight + 16 + 2 * Canvas.lineHeight, .grey)
        canvas.text("no tissue:", x: barX - 4, y: barTop + barHeight + 16 + 3 * Canvas.lineHeight, .grey)
        canvas.text("not shaded", x: barX - 4, y: barTop + barHeight + 16 + 4 * Canvas.lineHeight, .grey)
        canvas.text("outlined:", x: barX - 4, y: barTop + barHeight + 24 + 5 * Canvas.lineHeight, .black)
        canvas.text("regions, by rank", x: barX - 4, y: barTop + barHeight + 24 + 6 * Canvas.lineHeight, .black)
        return canvas
    }

    /// Colours for class maps: Okabe and Ito's eight (distinct with the common colour-vision
    /// deficiencies), then lighter and darker variants.
    public static func classColor(_ k: Int) -> Color {
        let base: [Color] = [Color(230, 159, 0), Color(86, 180, 233), Color(0, 158, 115), Color(240, 228, 66), Color(0, 114, 178),
                             Color(213, 94, 0), Color(204, 121, 167), Color(0, 0, 0)]
        let c = base[k % base.count]
        let round = k / base.count
        guard round > 0 else { return c }
        func shade(_ v: UInt8) -> UInt8 { round % 2 == 1 ? UInt8((Int(v) + 255) / 2) : UInt8(Int(v) / 2) }
        return Color(shade(c.r), shade(c.g), shade(c.b))
    }

    /// Each screened cell's most probable class over the slide thumbnail, with a legend of the
    /// classes and the share of screened cells each takes.
    public static func classMap(_ result: ScreenResult, title: String, alpha: Double = 0.5) -> Canvas? {
        guard result.classProbabilities != nil, let names = result.classNames, !names.isEmpty else { return nil }
        let k = names.count, thumb = result.mask.thumbnail
        let winner = result.mostProbableClasses()
        var counts = [Int](repeating: 0, count: k)
        for w in winner where w >= 0 { counts[w] += 1 }
        let header = Canvas.lineHeight + 12, legendWidth = 40 + names.map { Canvas.textWidth($0) }.max()! + 70
        var canvas = Canvas(width: thumb.width + legendWidth, height: max(thumb.height + header, 40 + k * (Canvas.lineHeight + 6)))
        canvas.text("\(title): most probable class per cell", x: 8, y: 4)
        var image = Canvas(thumb)
        shadeCells(&image, result, alpha: alpha) { winner[$0] >= 0 ? classColor(winner[$0]) : nil }
        canvas.draw(image.raster, x: 0, y: header)
        let total = max(1, counts.reduce(0, +))
        for (j, name) in names.enumerated() {
            let y = header + 8 + j * (Canvas.lineHeight + 6)
            canvas.fillRect(x: thumb.width + 12, y: y, width: 18, height: Canvas.lineHeight, classColor(j))
            canvas.text(String(format: "%@ %.1f%%", name, 100 * Double(counts[j]) / Double(total)), x: thumb.width + 36, y: y)
        }
        return canvas
    }

    /// Blends `color(cell)` over each thumbnail pixel whose centre lies in a cell (nil: leave it).
    static func shadeCells(_ image: inout Canvas, _ result: ScreenResult, alpha: Double, _ color: (Int) -> Color?) {
        let g = result.grid, mask = result.mask
        let cellW = Double(g.stride) * g.scaleX, cellH = Double(g.stride) * g.scaleY
        for y in 0..<image.height {
            let row = Int((Double(y) + 0.5) * mask.downsampleY / cellH)
            guard row < g.rows else { continue }
            for x in 0..<image.width {
                let column = Int((Double(x) + 0.5) * mask.downsampleX / cellW)
                guard column < g.columns, let c = color(row * g.columns + column) else { continue }
                image.blend(x: x, y: y, c, alpha: alpha)
            }
        }
    }

    /// One class's probability, one pixel per cell (as `heatmap`).
    public static func classHeatmap(_ result: ScreenResult, classIndex j: Int) -> Raster? {
        guard let all = result.classProbabilities, let k = result.classNames?.count, (0..<k).contains(j) else { return nil }
        return heatmap(result) { Double(all[$0 * k + j]) }
    }

    /// The slide overview scaled to fit `maxSize` (for worklists).
    public static func thumbnail(_ image: Raster, maxSize: Int) -> Raster {
        let scale = max(1, Double(max(image.width, image.height)) / Double(maxSize))
        return image.resampledArea(width: max(1, Int((Double(image.width) / scale).rounded())),
                                   height: max(1, Int((Double(image.height) / scale).rounded())))
    }

    static func formatShort(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%g", v)
    }
}

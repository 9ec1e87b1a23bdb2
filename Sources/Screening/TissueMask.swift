import Foundation
import Neural
import Imaging
import Slides

/// Where the tissue is, at low resolution.
///
/// Detection runs on a thumbnail of the slide: pixels that are nearly white (glass), very dark
/// (out-of-scan areas, black ink) or of a hue that H&E never takes (blue and green pen marks)
/// are excluded; the rest is split by Otsu's threshold on saturation, and the binary mask is
/// cleaned with a closing, an opening, and removal of specks and small holes.
public struct TissueMask: Sendable {
    /// Mask size in pixels.
    public let width: Int
    public let height: Int
    /// Level-0 pixels per mask pixel, along x and y.
    public let downsampleX: Double
    public let downsampleY: Double
    /// Row-major, true where there is tissue.
    public var isTissue: [Bool]
    /// The RGB thumbnail the mask was computed on (same size).
    public let thumbnail: Raster
    /// The saturation threshold Otsu chose (0–255), for quality control.
    public let saturationThreshold: Int

    /// Tunable thresholds, in 0–255 units.
    public struct Parameters: Sendable {
        /// Brighter than this with saturation below `glassSaturation` is glass.
        public var glassValue = 215
        public var glassSaturation = 30
        /// Darker than this is out-of-scan or black ink.
        public var darkValue = 40
        /// Saturation that is always too low for stained tissue, whatever Otsu says.
        public var minimumSaturation = 20
        /// Saturated pixels with a hue in this range (degrees) are pen ink, not H&E.
        public var penHueRange = 75.0...250.0
        public var penSaturation = 60
        /// Components and holes smaller than this (mask pixels) are removed or filled.
        public var minimumComponentPixels = 30
        public init() {}
    }

    /// Detects tissue on a thumbnail no larger than `maxSize` on its long side.
    public static func detect(_ slide: any Slide, maxSize: Int = 1536, parameters: Parameters = Parameters()) throws(SlideError) -> TissueMask {
        let thumbnail = try slide.thumbnail(maxSize: PixelSize(width: maxSize, height: maxSize))
        let size0 = slide.metadata.sizeLevel0
        return detect(thumbnail: thumbnail, downsampleX: Double(size0.width) / Double(thumbnail.width),
                      downsampleY: Double(size0.height) / Double(thumbnail.height), parameters: parameters)
    }

    /// Detects tissue in an RGB image whose pixels each cover `downsample` level-0 pixels.
    public static func detect(thumbnail: Raster, downsampleX: Double, downsampleY: Double,
                              parameters p: Parameters = Parameters()) -> TissueMask {
        let w = thumbnail.width, h = thumbnail.height
        var saturation = [UInt8](repeating: 0, count: w * h)
        var candidate = [Bool](repeating: false, count: w * h)
        var histogram = [Int](repeating: 0, count: 256)
        for i in 0..<(w * h) {
            let r = Int(thumbnail.pixels[3 * i]), g = Int(thumbnail.pixels[3 * i + 1]), b = Int(thumbnail.pixels[3 * i + 2])
            let maxC = max(r, g, b), minC = min(r, g, b)
            let s = maxC == 0 ? 0 : (maxC - minC) * 255 / maxC
            saturation[i] = UInt8(s)
            if maxC < p.darkValue { continue }
            if s >= p.penSaturation && p.penHueRange.contains(hue(r, g, b)) { continue }
            // Glass stays in the histogram, so that Otsu splits glass from tissue rather than
            // pale stroma from dense tissue.
            histogram[s] += 1
            if maxC > p.glassValue && s < p.glassSaturation { continue }
            candidate[i] = true
        }
        let otsu = max(p.minimumSaturation, otsuThreshold(histogram))
        var mask = (0..<(w * h)).map { candidate[$0] && Int(saturation[$0]) >= otsu }
        mask = Morphology.close(mask, width: w, height: h, radius: 3)
        mask = Morphology.open(mask, width: w, height: h, radius: 1)
        mask = Morphology.removeSmallComponents(mask, width: w, height: h, minimumPixels: p.minimumComponentPixels)
        mask = Morphology.fillSmallHoles(mask, width: w, height: h, maximumPixels: max(p.minimumComponentPixels * 4, w * h / 200))
        return TissueMask(width: w, height: h, downsampleX: downsampleX, downsampleY: downsampleY, isTissue: mask,
                          thumbnail: thumbnail, saturationThreshold: otsu)
    }

    /// Hue in degrees (0–360).
    static func hue(_ r: Int, _ g: Int, _ b: Int) -> Double {
        let maxC = max(r, g, b), minC = min(r, g, b)
        guard maxC > minC else { return 0 }
        let d = Double(maxC - minC)
        var h: Double
        if maxC == r { h = Double(g - b) / d } else if maxC == g { h = 2 + Double(b - r) / d } else { h = 4 + Double(r - g) / d }
        h *= 60
        return h < 0 ? h + 360 : h
    }

    /// Otsu's threshold: the level that maximises the between-class variance of the histogram.
    public static func otsuThreshold(_ histogram: [Int]) -> Int {
        let total = histogram.reduce(0, +)
        guard total > 0 else { return 255 }
        let sumAll = histogram.enumerated().reduce(0.0) { $0 + Double($1.offset * $1.element) }
        var sumBelow = 0.0, weightBelow = 0, best = 0.0, threshold = 0
        for t in 0..<histogram.count {
            weightBelow += histogram[t]
            if weightBelow == 0 { continue }
            let weightAbove = total - weightBelow
            if weightAbove == 0 { break }
            sumBelow += Double(t * histogram[t])
            let meanBelow = sumBelow / Double(weightBelow), meanAbove = (sumAll - sumBelow) / Double(weightAbove)
            let between = Double(weightBelow) * Double(weightAbove) * (meanBelow - meanAbove) * (meanBelow - meanAbove)
            if between > best { best = between; threshold = t + 1 }
        }
        return threshold
    }

    /// The fraction of the level-0 rectangle covered by tissue (area outside the slide counts
    /// as no tissue), sampling the mask with area weights.
    public func fraction(x: Double, y: Double, width rw: Double, height rh: Double) -> Double {
        let mx0 = x / downsampleX, my0 = y / downsampleY
        let mx1 = (x + rw) / downsampleX, my1 = (y + rh) / downsampleY
        var covered = 0.0
        var my = max(0, Int(my0.rounded(.down)))
        while Double(my) < my1 && my < height {
            let oy = min(my1, Double(my + 1)) - max(my0, Double(my))
            var mx = max(0, Int(mx0.rounded(.down)))
            while Double(mx) < mx1 && mx < width {
                if isTissue[my * width + mx] {
                    covered += oy * (min(mx1, Double(mx + 1)) - max(mx0, Double(mx)))
                }
                mx += 1
            }
            my += 1
        }
        let area = (mx1 - mx0) * (my1 - my0)
        return area > 0 ? min(1, covered / area) : 0
    }

    /// The fraction of mask pixels that are tissue.
    public var tissueFraction: Double { Double(isTissue.filter { $0 }.count) / Double(max(1, isTissue.count)) }

    /// The thumbnail with tissue tinted green and everything else dimmed, for quality control.
    public func overlay() -> Raster {
        var out = Raster(width: width, height: height, channels: 3)
        for i in 0..<(width * height) {
            for c in 0..<3 {
                let v = Double(thumbnail.pixels[3 * i + c])
                let tinted: Double = isTissue[i] ? 0.6 * v + 0.4 * [0.0, 158, 115][c] : 0.35 * v + 0.65 * 255
                out.pixels[3 * i + c] = UInt8(max(0, min(255, tinted.rounded())))
            }
        }
        return out
    }
}

/// Binary morphology on row-major masks.
public enum Morphology {
    /// Dilation with a (2r+1)² square, separably.
    public static func dilate(_ m: [Bool], width w: Int, height h: Int, radius r: Int) -> [Bool] {
        filter(m, width: w, height: h, radius: r, erode: false)
    }

    public static func erode(_ m: [Bool], width w: Int, height h: Int, radius r: Int) -> [Bool] {
        filter(m, width: w, height: h, radius: r, erode: true)
    }

    /// Dilation by a (2r+1)² square, or erosion as the complement of the complement's
    /// dilation (pixels beyond the edge count as false for dilation, true for erosion).
    /// Separable; each 1-D pass keeps a running count of the set pixels in the window
    /// [i − r, i + r], so the cost does not grow with r.
    private static func filter(_ m: [Bool], width w: Int, height h: Int, radius r: Int, erode: Bool) -> [Bool] {
        func pass(_ src: [Bool], lines: Int, length: Int, step: Int, lineStep: Int, invert: Bool) -> [Bool] {
            var dst = [Bool](repeating: false, count: src.count)
            src.withUnsafeBufferPointer { aBuffer in
                dst.withUnsafeMutableBufferPointer { bBuffer in
                    // Lines are independent: split them over the engine's threads.
                    nonisolated(unsafe) let a = aBuffer.baseAddress!, b = bBuffer.baseAddress!
                    Threading.parallelFor(lines) { _, part in
                      for line in part {
                        let base = line * lineStep
                        var count = 0
                        for i in 0..<min(r, length) where a[base + i * step] != invert { count += 1 }
                        for i in 0..<length {
                            if i + r < length, a[base + (i + r) * step] != invert { count += 1 }
                            if i - r - 1 >= 0, a[base + (i - r - 1) * step] != invert { count -= 1 }
                            b[base + i * step] = (count > 0) != invert
                        }
                      }
                    }
                }
            }
            return dst
        }
        let rows = pass(m, lines: h, length: w, step: 1, lineStep: w, invert: erode)
        return pass(rows, lines: w, length: h, step: w, lineStep: 1, invert: erode)
    }

    public static func close(_ m: [Bool], width w: Int, height h: Int, radius r: Int) -> [Bool] {
        erode(dilate(m, width: w, height: h, radius: r), width: w, height: h, radius: r)
    }

    public static func open(_ m: [Bool], width w: Int, height h: Int, radius r: Int) -> [Bool] {
        dilate(erode(m, width: w, height: h, radius: r), width: w, height: h, radius: r)
    }

    /// 4-connected components of the true pixels: a label per pixel (−1 for false) and the
    /// number of components.
    public static func components(_ m: [Bool], width w: Int, height h: Int) -> (labels: [Int], count: Int) {
        var labels = [Int](repeating: -1, count: m.count)
        var count = 0
        var stack: [Int] = []
        for start in 0..<m.count where m[start] && labels[start] < 0 {
            labels[start] = count
            stack.append(start)
            while let i = stack.popLast() {
                let x = i % w
                func visit(_ j: Int) { if m[j] && labels[j] < 0 { labels[j] = count; stack.append(j) } }
                if x > 0 { visit(i - 1) }
                if x < w - 1 { visit(i + 1) }
                if i >= w { visit(i - w) }
                if i + w < m.count { visit(i + w) }
            }
            count += 1
        }
        return (labels, count)
    }

    public static func removeSmallComponents(_ m: [Bool], width w: Int, height h: Int, minimumPixels: Int) -> [Bool] {
        let (labels, count) = components(m, width: w, height: h)
        var sizes = [Int](repeating: 0, count: count)
        for l in labels where l >= 0 { sizes[l] += 1 }
        return labels.map { $0 >= 0 && sizes[$0] >= minimumPixels }
    }

    /// Fills background components that do not touch the border and are at most `maximumPixels`.
    public static func fillSmallHoles(_ m: [Bool], width w: Int, height h: Int, maximumPixels: Int) -> [Bool] {
        let (labels, count) = components(m.map { !$0 }, width: w, height: h)
        var sizes = [Int](repeating: 0, count: count), touchesBorder = [Bool](repeating: false, count: count)
        for (i, l) in labels.enumerated() where l >= 0 {
            sizes[l] += 1
            let x = i % w, y = i / w
            if x == 0 || y == 0 || x == w - 1 || y == h - 1 { touchesBorder[l] = true }
        }
        return (0..<m.count).map { i in m[i] || (labels[i] >= 0 && !touchesBorder[labels[i]] && sizes[labels[i]] <= maximumPixels) }
    }
}

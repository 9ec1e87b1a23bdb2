import Foundation

/// Camelyon's lesion classes by longest diameter (Camelyon17's pN staging rules): isolated
/// tumour cells below 0.2 mm, micro-metastases from 0.2 to 2 mm, macro-metastases above 2 mm.
public enum LesionClass: String, Sendable, Codable, CaseIterable, Comparable {
    case itc, micro, macro

    public init(diameterMM d: Double) {
        self = d < 0.2 ? .itc : d <= 2 ? .micro : .macro
    }

    public var label: String {
        switch self {
        case .itc: "isolated tumour cells"
        case .micro: "micro-metastasis"
        case .macro: "macro-metastasis"
        }
    }

    public static func < (a: LesionClass, b: LesionClass) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A connected region of positive cells: a candidate lesion.
public struct Region: Sendable, Codable, Equatable {
    /// Rank by lesion score, from 1; the number shown on the overlay, in the report, the
    /// viewer, regions.geojson and summary.json.
    public var id: Int
    /// Cells (row-major indices) in the region.
    public var cells: [Int]
    /// Σ pᵢ·aᵢ over the region's cells: probability times the cell's area inside the slide,
    /// in mm², so the expected tumour area. Big confident lesions rank above single-cell specks.
    public var score: Double
    public var maxProbability: Double
    public var meanProbability: Double
    /// Area of the region's cells inside the slide, in mm².
    public var areaMM2: Double
    /// Longest diameter: the largest distance between two points of the outline, in mm.
    public var diameterMM: Double
    public var lesionClass: LesionClass
    /// Bounding box and centroid in level-0 pixels.
    public var boundingBox: [Double]
    public var centroid: [Double]
    /// The centre of the cell with the highest probability, in level-0 pixels: the point a
    /// lesion-level evaluation scores (as Camelyon16's detections are points).
    public var peak: [Double]
    /// Rings of level-0 vertices: the outline first, then any holes; each ring closed.
    public var rings: [[[Double]]]
}

public enum Regions {
    /// 4-connected components of cells that were screened and reached `threshold`, with at
    /// least `minimumCells` cells, ranked by lesion score (highest first) and numbered from 1.
    public static func find(_ result: ScreenResult, minimumCells: Int = 1) -> [Region] {
        find(grid: result.grid, probabilities: result.probabilities, threshold: result.threshold, minimumCells: minimumCells)
    }

    public static func find(grid: TileGrid, probabilities: [Float?], threshold: Double, minimumCells: Int = 1) -> [Region] {
        precondition(probabilities.count == grid.cellCount, "Regions.find: \(probabilities.count) probabilities for \(grid.cellCount) cells")
        let w = grid.columns, h = grid.rows
        let positive = probabilities.map { ($0 ?? -1) >= Float(threshold) }
        var seen = [Bool](repeating: false, count: positive.count)
        var regions: [Region] = []
        for start in 0..<positive.count where positive[start] && !seen[start] {
            var cells: [Int] = []
            var stack = [start]
            seen[start] = true
            while let i = stack.popLast() {
                cells.append(i)
                let x = i % w, y = i / w
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < w && ny < h {
                    let j = ny * w + nx
                    if positive[j] && !seen[j] { seen[j] = true; stack.append(j) }
                }
            }
            guard cells.count >= minimumCells else { continue }
            cells.sort()
            var area = 0.0, cx = 0.0, cy = 0.0, score = 0.0, sum = 0.0
            var peakCell = cells[0], peakP = -1.0
            var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
            for c in cells {
                let p = Double(probabilities[c]!)
                let r = clipped(grid, c)
                let a = r.width * r.height
                area += a
                score += p * a
                sum += p
                if p > peakP { peakP = p; peakCell = c }
                cx += (r.x + r.width / 2) * a
                cy += (r.y + r.height / 2) * a
                minX = min(minX, r.x); minY = min(minY, r.y); maxX = max(maxX, r.x + r.width); maxY = max(maxY, r.y + r.height)
            }
            let rings = outline(cells: Set(cells), grid: grid)
            let peak = clipped(grid, peakCell)
            let diameter = longestDiameterMM(rings[0], mppX: grid.mppX, mppY: grid.mppY)
            regions.append(Region(
                id: 0, cells: cells, score: score * grid.level0PixelAreaMM2, maxProbability: peakP,
                meanProbability: sum / Double(cells.count), areaMM2: area * grid.level0PixelAreaMM2,
                diameterMM: diameter, lesionClass: LesionClass(diameterMM: diameter),
                boundingBox: [minX, minY, maxX - minX, maxY - minY],
                centroid: area > 0 ? [cx / area, cy / area] : [minX, minY],
                peak: [peak.x + peak.width / 2, peak.y + peak.height / 2], rings: rings))
        }
        regions.sort { $0.score != $1.score ? $0.score > $1.score : $0.cells[0] < $1.cells[0] }
        for i in regions.indices { regions[i].id = i + 1 }
        return regions
    }

    /// The largest distance between two vertices of a ring (level-0 pixels), in mm: the
    /// diameter of its convex hull, which the ring's vertices span.
    static func longestDiameterMM(_ ring: [[Double]], mppX: Double, mppY: Double) -> Double {
        let points = ring.map { ($0[0] * mppX / 1000, $0[1] * mppY / 1000) }
        let hull = convexHull(points)
        var best = 0.0
        for i in hull.indices {
            for j in hull.indices where j > i {
                let dx = hull[i].0 - hull[j].0, dy = hull[i].1 - hull[j].1
                best = max(best, dx * dx + dy * dy)
            }
        }
        return best.squareRoot()
    }

    /// Andrew's monotone chain; collinear points are dropped.
    static func convexHull(_ input: [(Double, Double)]) -> [(Double, Double)] {
        let p = input.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        guard p.count > 2 else { return p }
        func cross(_ o: (Double, Double), _ a: (Double, Double), _ b: (Double, Double)) -> Double {
            (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
        }
        var lower: [(Double, Double)] = [], upper: [(Double, Double)] = []
        for q in p {
            while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], q) <= 0 { lower.removeLast() }
            lower.append(q)
        }
        for q in p.reversed() {
            while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], q) <= 0 { upper.removeLast() }
            upper.append(q)
        }
        return Array(lower.dropLast() + upper.dropLast())
    }

    /// A cell's level-0 rectangle clipped to the slide.
    static func clipped(_ grid: TileGrid, _ cell: Int) -> (x: Double, y: Double, width: Double, height: Double) {
        let r = grid.cellLevel0(column: cell % grid.columns, row: cell / grid.columns)
        let x1 = min(r.x + r.width, Double(grid.sizeLevel0.width)), y1 = min(r.y + r.height, Double(grid.sizeLevel0.height))
        return (r.x, r.y, max(0, x1 - r.x), max(0, y1 - r.y))
    }

    /// The boundary of a set of grid cells as closed rings of level-0 vertices. Each boundary
    /// edge is directed with the region on its right (y grows downwards), and edges are
    /// chained into rings; at a vertex where two rings touch, the chain turns right, so
    /// rings never cross. The ring with the largest area is the outline; the others are holes.
    static func outline(cells: Set<Int>, grid: TileGrid) -> [[[Double]]] {
        let w = grid.columns
        struct Point: Hashable { var x: Int; var y: Int }
        var outgoing: [Point: [Point]] = [:]
        func add(_ a: Point, _ b: Point) { outgoing[a, default: []].append(b) }
        func inside(_ x: Int, _ y: Int) -> Bool { x >= 0 && y >= 0 && x < w && y < grid.rows && cells.contains(y * w + x) }
        for c in cells {
            let x = c % w, y = c / w
            if !inside(x, y - 1) { add(Point(x: x, y: y), Point(x: x + 1, y: y)) }          // top, left to right
            if !inside(x + 1, y) { add(Point(x: x + 1, y: y), Point(x: x + 1, y: y + 1)) }  // right, downwards
            if !inside(x, y + 1) { add(Point(x: x + 1, y: y + 1), Point(x: x, y: y + 1)) }  // bottom, right to left
            if !inside(x - 1, y) { add(Point(x: x, y: y + 1), Point(x: x, y: y)) }          // left, upwards
        }
        var rings: [[Point]] = []
        while let start = outgoing.keys.min(by: { ($0.y, $0.x) < ($1.y, $1.x) }) {
            var ring = [start]
            var previous = start
            var current = outgoing[start]!.removeFirst()
            if outgoing[start]!.isEmpty { outgoing[start] = nil }
            while current != start {
                ring.append(current)
                guard var options = outgoing[current], !options.isEmpty else { break }
                // Prefer the right turn relative to the incoming direction.
                let dx = current.x - previous.x, dy = current.y - previous.y
                let right = Point(x: current.x - dy, y: current.y + dx)
                let index = options.firstIndex(of: right) ?? 0
                let next = options.remove(at: index)
                outgoing[current] = options.isEmpty ? nil : options
                previous = current
                current = next
            }
            ring.append(start)
            rings.append(simplify(ring, { $0.x }, { $0.y }))
        }
        func area(_ r: [Point]) -> Double {
            zip(r, r.dropFirst()).reduce(0.0) { $0 + Double($1.0.x * $1.1.y - $1.1.x * $1.0.y) } / 2
        }
        rings.sort { abs(area($0)) > abs(area($1)) }
        let size = grid.sizeLevel0
        return rings.map { ring in
            ring.map { p in
                let c = grid.cellLevel0(column: p.x, row: p.y)
                return [min(c.x, Double(size.width)), min(c.y, Double(size.height))]
            }
        }
    }

    /// Drops vertices in the middle of straight runs of a closed ring (first == last).
    static func simplify<P>(_ ring: [P], _ x: (P) -> Int, _ y: (P) -> Int) -> [P] {
        guard ring.count > 4 else { return ring }
        var points = Array(ring.dropLast())
        var changed = true
        while changed && points.count > 3 {
            changed = false
            var kept: [P] = []
            for i in points.indices {
                let a = points[(i + points.count - 1) % points.count], b = points[i], c = points[(i + 1) % points.count]
                let cross = (x(b) - x(a)) * (y(c) - y(b)) - (y(b) - y(a)) * (x(c) - x(b))
                if cross == 0 { changed = true } else { kept.append(b) }
            }
            if changed { points = kept }
        }
        return points + [points[0]]
    }

}

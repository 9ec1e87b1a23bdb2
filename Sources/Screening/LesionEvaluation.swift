import Foundation
import Imaging
import Slides
import Training

/// Lesion-level evaluation of screens against annotated slides: the Camelyon16 FROC, lesion
/// sensitivity by Camelyon class, and tile-level AUC against the annotation mask.
///
/// How hits are counted (docs/evaluation.md gives the reasons):
/// - A detection is a region, scored by its lesion score and placed at its peak cell's centre,
///   as Camelyon16's detections are scored points.
/// - It hits a lesion when that point lies inside the lesion (outside its exclusions), or
///   within 75 µm of it, Camelyon16's dilation of the tumour mask (about five tumour cells). A
///   point near several lesions hits the nearest.
/// - A lesion hit several times counts once, at its best-scoring detection; the other
///   detections on it are neither true nor false positives (so a lesion split into several
///   regions is not penalised).
/// - Isolated tumour cells (lesions under 0.2 mm) are left out of the FROC, as in Camelyon16:
///   detections on them are neither true nor false positives. They are counted in the
///   per-class sensitivity.
/// - Every other detection is a false positive. The FROC pools all slides' detections and
///   divides false positives by the number of slides, normal slides included; sensitivity at
///   each false-positive rate is interpolated linearly along the curve, as Camelyon16's
///   evaluation script does.
public enum LesionEvaluation {
    public static let hitDistanceMicrons = 75.0
    public static let frocRates: [Double] = [0.25, 0.5, 1, 2, 4, 8]

    /// One screened slide: its grid and probabilities, from summary.json and tiles.csv.
    public struct Screened: Sendable {
        public var name: String
        public var grid: TileGrid
        public var probabilities: [Float?]
        public var threshold: Double
        public var minimumRegionCells: Int

        /// Reads a screen's result folder.
        public static func load(_ folder: URL) throws(TruthAnnotations.ReadError) -> Screened {
            let summaryURL = folder.appendingPathComponent("summary.json")
            guard let data = FileManager.default.contents(atPath: summaryURL.path) else {
                throw .init(path: folder.path, problem: "is not a screen's result folder (no summary.json)")
            }
            let s: ScreenSummary
            do { s = try JSONDecoder().decode(ScreenSummary.self, from: data) } catch {
                throw .init(path: summaryURL.path, problem: "is not a HistoScreen summary: \(error)")
            }
            guard Screener.plausibleMPP.contains(s.slide.mppX), Screener.plausibleMPP.contains(s.slide.mppY),
                  (1...10_000_000).contains(s.slide.widthLevel0), (1...10_000_000).contains(s.slide.heightLevel0),
                  (2...4096).contains(s.parameters.stride), s.parameters.stride % 2 == 0, Screener.plausibleMPP.contains(s.model.micronsPerPixel) else {
                throw .init(path: summaryURL.path, problem: "has an implausible slide size, resolution or stride")
            }
            let grid = TileGrid(sizeLevel0: PixelSize(width: s.slide.widthLevel0, height: s.slide.heightLevel0), mppX: s.slide.mppX,
                                mppY: s.slide.mppY, targetMPP: s.model.micronsPerPixel, stride: s.parameters.stride)
            guard grid.cellCount <= 200_000_000 else { throw .init(path: summaryURL.path, problem: "describes more than 200 M cells") }
            let csvURL = folder.appendingPathComponent("tiles.csv")
            guard let csv = FileManager.default.contents(atPath: csvURL.path) else { throw .init(path: csvURL.path, problem: "cannot be read") }
            var probabilities = [Float?](repeating: nil, count: grid.cellCount)
            for (k, line) in String(decoding: csv, as: UTF8.self).split(separator: "\n").enumerated() {
                if k == 0 {
                    guard line.hasPrefix("x,y,width,height,row,column,") else { throw .init(path: csvURL.path, problem: "is not a HistoScreen tiles.csv") }
                    continue
                }
                let f = line.split(separator: ",", omittingEmptySubsequences: false)
                guard f.count == 8, let row = Int(f[4]), let column = Int(f[5]), let p = Float(f[7]),
                      (0..<grid.rows).contains(row), (0..<grid.columns).contains(column), p.isFinite, (0...1).contains(p) else {
                    throw .init(path: csvURL.path, problem: "line \(k + 1) is not a cell of this slide's grid with a probability in 0–1")
                }
                probabilities[row * grid.columns + column] = p
            }
            return Screened(name: s.slide.name, grid: grid, probabilities: probabilities, threshold: s.threshold,
                            minimumRegionCells: s.output?.minimumRegionCells ?? 1)
        }
    }

    public struct LesionResult: Sendable, Codable {
        public var slide: String
        public var index: Int
        public var lesionClass: LesionClass
        public var diameterMM: Double
        /// The best-scoring detection that hit it, by rank on its slide.
        public var detectedBy: Int?
        public var score: Double?
    }

    public struct DetectionResult: Sendable, Codable {
        public enum Outcome: String, Sendable, Codable { case truePositive = "tp", falsePositive = "fp", duplicate, isolatedTumourCells = "itc" }
        public var slide: String
        public var rank: Int
        public var score: Double
        public var x, y: Double
        public var outcome: Outcome
        public var lesion: Int?
    }

    public struct SlideReport: Sendable, Codable {
        public var name: String
        public var truth: String?
        public var lesions: Int
        public var detections: Int
        public var falsePositives: Int
    }

    public struct FROC: Sendable, Codable {
        public var falsePositivesPerSlide: [Double]
        public var sensitivities: [Double]
        /// The mean of the sensitivities: the Camelyon16 score.
        public var score: Double
        /// The curve: (false positives per slide, sensitivity), from the highest score down.
        public var curve: [[Double]]
        public var lesions: Int
    }

    public struct ClassSensitivity: Sendable, Codable {
        public var detected: Int
        public var total: Int
        public var sensitivity: Double?
    }

    public struct Report: Sendable, Codable {
        public var slides: [SlideReport]
        public var froc: FROC
        public var lesionSensitivity: [String: ClassSensitivity]
        public var tileAUC: Interval?
        public var tileCounts: [String: Int]
        public var hitDistanceMicrons: Double
        public var rules: String
        public var lesions: [LesionResult]
        public var detections: [DetectionResult]
    }

    /// Evaluates screens against their annotations (nil: a slide with no tumour).
    public static func evaluate(_ cases: [(screened: Screened, truth: TruthAnnotations?, truthPath: String?)],
                                threshold: Double? = nil, resamples: Int = 1000) -> Report {
        var lesions: [LesionResult] = [], detections: [DetectionResult] = [], slides: [SlideReport] = []
        var tileScores: [Double] = [], tileLabels: [Int] = []
        for (screened, truth, truthPath) in cases {
            let g = screened.grid
            let regions = Regions.find(grid: g, probabilities: screened.probabilities, threshold: threshold ?? screened.threshold,
                                       minimumCells: screened.minimumRegionCells)
            let truthLesions = truth?.lesions ?? []
            let exclusions = truth?.exclusions ?? []
            let base = lesions.count
            for (k, lesion) in truthLesions.enumerated() {
                let d = Regions.longestDiameterMM(lesion.rings[0], mppX: g.mppX, mppY: g.mppY)
                lesions.append(LesionResult(slide: screened.name, index: k + 1, lesionClass: LesionClass(diameterMM: d), diameterMM: d))
            }
            var falsePositives = 0
            for r in regions {
                let (x, y) = (r.peak[0], r.peak[1])
                var best: (lesion: Int, distance: Double)?
                for (k, lesion) in truthLesions.enumerated() {
                    let distance: Double
                    if let e = exclusions.first(where: { PlaneGeometry.contains($0.rings, x, y) }) {
                        distance = PlaneGeometry.contains(lesion.rings, x, y)
                            ? PlaneGeometry.distanceToEdgesMicrons(e.rings, x, y, mppX: g.mppX, mppY: g.mppY)
                            : PlaneGeometry.distanceToEdgesMicrons(lesion.rings, x, y, mppX: g.mppX, mppY: g.mppY)
                    } else if PlaneGeometry.contains(lesion.rings, x, y) {
                        distance = 0
                    } else {
                        distance = PlaneGeometry.distanceToEdgesMicrons(lesion.rings, x, y, mppX: g.mppX, mppY: g.mppY)
                    }
                    if distance <= hitDistanceMicrons && distance < (best?.distance ?? .infinity) { best = (k, distance) }
                }
                var outcome = DetectionResult.Outcome.falsePositive
                if let best {
                    let i = base + best.lesion
                    if lesions[i].lesionClass == .itc {
                        outcome = .isolatedTumourCells
                    } else {
                        outcome = lesions[i].detectedBy == nil ? .truePositive : .duplicate
                    }
                    // Regions come in rank order, so the first hit is the best-scoring one.
                    if lesions[i].detectedBy == nil { lesions[i].detectedBy = r.id; lesions[i].score = r.score }
                } else {
                    falsePositives += 1
                }
                detections.append(DetectionResult(slide: screened.name, rank: r.id, score: r.score, x: x, y: y, outcome: outcome,
                                                  lesion: best.map { $0.lesion + 1 }))
            }
            slides.append(SlideReport(name: screened.name, truth: truthPath, lesions: truthLesions.count, detections: regions.count,
                                      falsePositives: falsePositives))
            // Tiles: positive when the cell's centre is in tumour (not in an exclusion).
            for (i, p) in screened.probabilities.enumerated() {
                guard let p else { continue }
                let c = g.cellLevel0(column: i % g.columns, row: i / g.columns)
                let x = c.x + c.width / 2, y = c.y + c.height / 2
                let tumour = truthLesions.contains { PlaneGeometry.contains($0.rings, x, y) }
                    && !exclusions.contains { PlaneGeometry.contains($0.rings, x, y) }
                tileScores.append(Double(p))
                tileLabels.append(tumour ? 1 : 0)
            }
        }
        let froc = Self.froc(lesions: lesions, detections: detections, slideCount: cases.count)
        var byClass: [String: ClassSensitivity] = [:]
        for c in LesionClass.allCases {
            let of = lesions.filter { $0.lesionClass == c }
            let hit = of.filter { $0.detectedBy != nil }.count
            byClass[c.rawValue] = ClassSensitivity(detected: hit, total: of.count, sensitivity: of.isEmpty ? nil : Double(hit) / Double(of.count))
        }
        let positives = tileLabels.reduce(0, +)
        var auc: Interval?
        if positives > 0 && positives < tileLabels.count {
            auc = Metrics.bootstrap(tileScores, tileLabels, resamples: resamples, seed: 1, statistics: ["auc": Metrics.auc])["auc"]
        }
        return Report(slides: slides, froc: froc, lesionSensitivity: byClass, tileAUC: auc,
                      tileCounts: ["tumour": positives, "other": tileLabels.count - positives], hitDistanceMicrons: hitDistanceMicrons,
                      rules: "detections are regions at their peak cell, scored by lesion score; a hit lies in a lesion or within 75 µm; "
                          + "a lesion counts once; isolated tumour cells (< 0.2 mm) are left out of the FROC; FROC pooled over slides, "
                          + "sensitivity interpolated linearly at 1/4, 1/2, 1, 2, 4, 8 FP per slide (Camelyon16)",
                      lesions: lesions, detections: detections)
    }

    /// The pooled FROC over every detection (threshold swept over the scores).
    static func froc(lesions: [LesionResult], detections: [DetectionResult], slideCount: Int) -> FROC {
        let counted = lesions.filter { $0.lesionClass != .itc }
        let total = counted.count
        // Each lesion enters at its best score; each false positive at its own.
        var events: [(score: Double, tp: Int, fp: Int)] = counted.compactMap { l in l.score.map { ($0, 1, 0) } }
        events += detections.filter { $0.outcome == .falsePositive }.map { ($0.score, 0, 1) }
        events.sort { $0.score > $1.score }
        var curve: [[Double]] = [[0, 0]]
        var tp = 0, fp = 0, i = 0
        while i < events.count {
            let s = events[i].score
            while i < events.count && events[i].score == s { tp += events[i].tp; fp += events[i].fp; i += 1 }
            curve.append([Double(fp) / Double(max(1, slideCount)), total > 0 ? Double(tp) / Double(total) : 0])
        }
        // np.interp: linear between points, flat beyond the ends; at equal rates, the highest.
        func interpolate(_ rate: Double) -> Double {
            if rate >= curve.last![0] { return curve.last![1] }
            var k = 0
            while k + 1 < curve.count && curve[k + 1][0] <= rate { k += 1 }
            let a = curve[k], b = curve[k + 1]
            return b[0] > a[0] ? a[1] + (b[1] - a[1]) * (rate - a[0]) / (b[0] - a[0]) : a[1]
        }
        // Without a lesion to find, sensitivity is undefined (NaN), not zero.
        let sensitivities = total == 0 ? frocRates.map { _ in Double.nan } : frocRates.map(interpolate)
        return FROC(falsePositivesPerSlide: frocRates, sensitivities: sensitivities,
                    score: sensitivities.reduce(0, +) / Double(sensitivities.count), curve: curve, lesions: total)
    }

    /// The FROC curve with the six Camelyon16 rates marked.
    public static func chart(_ froc: FROC) -> Canvas {
        var chart = LineChart(title: "FROC (Camelyon16 score \(String(format: "%.3f", froc.score)), \(froc.lesions) lesions)",
                              xLabel: "false positives per slide", yLabel: "lesion sensitivity",
                              series: [.init("FROC", froc.curve.map { (min($0[0], 8.5), $0[1]) }, color: .blue),
                                       .init("at 1/4…8 FP", zip(froc.falsePositivesPerSlide, froc.sensitivities).map { ($0, $1) },
                                             color: .vermillion, dashed: true)],
                              xRange: (0, 8.5), yRange: (0, 1))
        chart.notes = zip(froc.falsePositivesPerSlide, froc.sensitivities).map { String(format: "%g FP: %.3f", $0, $1) }
        return chart.render()
    }
}

import Foundation
import Neural
import Slides

/// summary.json: what was screened, with what, and what was found.
public struct ScreenSummary: Sendable, Codable {
    public struct SlideInfo: Sendable, Codable {
        public var path: String
        public var name: String
        /// OpenSlide's quickhash-1 where the format has one, else the file's SHA-256.
        public var hash: String
        public var hashAlgorithm: String
        public var format: String
        public var widthLevel0: Int
        public var heightLevel0: Int
        public var mppX: Double
        public var mppY: Double
        /// "openslide.mpp", "tiff.resolution" or "user".
        public var mppSource: String
        public var levelUsed: Int
        public var levelDownsample: Double
    }
    public struct Tiles: Sendable, Codable {
        /// Cells in the grid over the whole slide.
        public var total: Int
        /// Cells with at least the minimum tissue fraction, which were screened.
        public var withTissue: Int
        public var positive: Int
        /// Each cell's edge in level-0 pixels.
        public var cellWidthLevel0: Double
        public var cellHeightLevel0: Double
    }
    public struct Model: Sendable, Codable {
        public var name: String
        public var path: String
        /// SHA-256 of model.json followed by weights.safetensors.
        public var sha256: String
        public var architecture: String
        public var micronsPerPixel: Double
        public init(name: String, path: String, sha256: String, architecture: String, micronsPerPixel: Double) {
            self.name = name; self.path = path; self.sha256 = sha256; self.architecture = architecture
            self.micronsPerPixel = micronsPerPixel
        }
    }
    public struct Timings: Sendable, Codable {
        /// Tissue detection on the thumbnail, before screening starts.
        public var tissueSeconds: Double
        /// Reader-thread busy time: reading, decoding and resampling windows (overlaps inference;
        /// time spent waiting for room in the queue is not counted).
        public var readSeconds: Double
        /// CPU time of the reader thread; below `readSeconds` when the thread waited for a core.
        public var readCPUSeconds: Double? = nil
        public var inferenceSeconds: Double
        public var writeSeconds: Double
        public var totalSeconds: Double
        /// Screened tiles per second of wall time, tissue detection and writing included.
        public var tilesPerSecond: Double
    }

    public var status = "ok"
    public var slide: SlideInfo
    public var tiles: Tiles
    /// Positive tissue area over tissue area, over screened cells.
    public var tumourFraction: Double
    public var tissueAreaMM2: Double
    public var positiveAreaMM2: Double
    public var maxProbability: Double?
    public var largestRegionMM2: Double
    public var regionCount: Int
    /// The largest Camelyon class among the regions ("itc", "micro", "macro"), or "none".
    public var largestLesionClass: String?
    /// The regions in rank order (their geometry is in regions.geojson).
    public var regions: [RegionSummary]?
    public var threshold: Double
    /// A multi-class model's classes, the one counted as tumour, and each class's share of the
    /// screened cells (by most probable class).
    public var classes: [String]?
    public var positiveClass: String?
    public var classFractions: [String: Double]?
    public var model: Model
    public var tool: [String: String]
    public var parameters: ScreenOptions
    public var output: OutputOptions?
    public var timings: Timings
    public var outputs: [String]
}

/// A region as summary.json lists it.
public struct RegionSummary: Sendable, Codable, Equatable {
    public var rank: Int
    public var score: Double
    public var lesionClass: LesionClass
    public var diameterMM: Double
    public var areaMM2: Double
    public var maxProbability: Double
    public var meanProbability: Double
    public var cells: Int
    /// Level-0 pixels.
    public var centroid: [Double]
    public var peak: [Double]
    public var boundingBox: [Double]

    public init(_ r: Region) {
        rank = r.id; score = r.score; lesionClass = r.lesionClass; diameterMM = r.diameterMM; areaMM2 = r.areaMM2
        maxProbability = r.maxProbability; meanProbability = r.meanProbability; cells = r.cells.count
        centroid = r.centroid; peak = r.peak; boundingBox = r.boundingBox
    }
}

extension ScreenSummary {
    /// Builds the summary; `writeSeconds` is filled in by the writer.
    public static func make(result: ScreenResult, slide: any Slide, slideName: String, regions: [Region], model: Model,
                            options: ScreenOptions, output: OutputOptions = OutputOptions(), toolVersion: String,
                            outputs: [String]) -> ScreenSummary {
        let grid = result.grid
        var tissueArea = 0.0, positiveArea = 0.0, positives = 0, screened = 0
        var maxP: Double?
        for (i, p) in result.probabilities.enumerated() {
            guard let p else { continue }
            screened += 1
            let r = Regions.clipped(grid, i)
            let area = r.width * r.height * result.tissueFractions[i] * grid.level0PixelAreaMM2
            tissueArea += area
            if Double(p) >= result.threshold { positives += 1; positiveArea += area }
            maxP = max(maxP ?? 0, Double(p))
        }
        let hash: (String, String) = slide.metadata.quickHash1.map { ($0, "openslide.quickhash-1") }
            ?? (SHA256.hex(fileAt: URL(fileURLWithPath: slide.path)) ?? "unavailable", "sha256")
        let info = SlideInfo(path: slide.path, name: slideName, hash: hash.0, hashAlgorithm: hash.1, format: slide.metadata.format,
                             widthLevel0: grid.sizeLevel0.width, heightLevel0: grid.sizeLevel0.height, mppX: grid.mppX, mppY: grid.mppY,
                             mppSource: result.resolutionSource.rawValue, levelUsed: result.plan.level, levelDownsample: result.plan.downsample)
        var classFractions: [String: Double]?
        if let names = result.classNames, !names.isEmpty {
            var counts = [Int](repeating: 0, count: names.count)
            for w in result.mostProbableClasses() where w >= 0 { counts[w] += 1 }
            let total = max(1, counts.reduce(0, +))
            classFractions = Dictionary(uniqueKeysWithValues: zip(names, counts.map { Double($0) / Double(total) }))
        }
        let c = grid.cellLevel0(column: 0, row: 0)
        let tilesPerSecond = Double(screened) / max(1e-9, result.totalSeconds)
        return ScreenSummary(
            slide: info, tiles: Tiles(total: grid.cellCount, withTissue: screened, positive: positives, cellWidthLevel0: c.width,
                                      cellHeightLevel0: c.height),
            tumourFraction: tissueArea > 0 ? positiveArea / tissueArea : 0, tissueAreaMM2: tissueArea, positiveAreaMM2: positiveArea,
            maxProbability: maxP, largestRegionMM2: regions.map(\.areaMM2).max() ?? 0, regionCount: regions.count,
            largestLesionClass: regions.map(\.lesionClass).max()?.rawValue ?? "none", regions: regions.map(RegionSummary.init),
            threshold: result.threshold, classes: result.classNames, positiveClass: result.positiveClass, classFractions: classFractions,
            model: model, tool: ["name": "histoscreen", "version": toolVersion],
            parameters: options, output: output,
            timings: Timings(tissueSeconds: result.tissueSeconds, readSeconds: result.readSeconds, readCPUSeconds: result.readCPUSeconds,
                             inferenceSeconds: result.inferenceSeconds, writeSeconds: 0,
                             totalSeconds: result.totalSeconds, tilesPerSecond: tilesPerSecond),
            outputs: outputs)
    }
}

import Imaging

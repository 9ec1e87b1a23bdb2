import Foundation
import Imaging
import Slides

/// What a screen writes besides its fixed files, and how regions are listed.
public struct OutputOptions: Sendable, Codable, Equatable {
    /// Regions with fewer cells are left out of the region list (tiles.csv keeps every cell).
    public var minimumRegionCells = 1
    /// Probabilities below this are not shaded on the overlay and in the viewer.
    public var heatmapFloor = 0.1
    /// Also write tiles.geojson: every screened cell as a QuPath tile with its probability.
    public var tilesGeoJSON = false
    /// Also write the zoomable viewer: viewer.html, viewer.dzi and viewer_files/.
    public var viewer = false
    /// µm per pixel of the viewer's most detailed level (the nearest power-of-two step of a
    /// slide level at or finer than this).
    public var viewerMPP = 2.0
    /// For a multi-class model: the classes that get a heatmap-<class>.png (nil: all of them).
    public var classHeatmaps: [String]?
    public init() {}
}

/// Writes a screen's outputs into `DIR/<slide-name>/`, atomically: everything goes into a
/// hidden temporary folder beside it, which replaces the old folder only when complete, so a
/// screen that fails part-way leaves no half-written result.
public enum ScreenWriter {
    public static let files = ["summary.json", "tiles.csv", "regions.geojson", "heatmap.png", "overlay.png", "tissue.png", "thumbnail.png",
                               "report.html", "probability.tif"]

    /// The files a screen writes with `output` (and, for a multi-class model, its classes).
    public static func files(_ output: OutputOptions, classes: [String]? = nil) -> [String] {
        var out = files + (output.tilesGeoJSON ? ["tiles.geojson"] : []) + (output.viewer ? ["viewer.html", "viewer.dzi", "viewer_files/"] : [])
        if let classes {
            out.append("classmap.png")
            out += heatmapClasses(classes, output).map { "heatmap-\(fileSafe($0)).png" }
        }
        return out
    }

    static func heatmapClasses(_ classes: [String], _ output: OutputOptions) -> [String] {
        classes.filter { output.classHeatmaps?.contains($0) ?? true }
    }

    /// A class name as part of a file or column name: letters, digits, '-' and '_'.
    static func fileSafe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }

    /// The output folder name for a slide: its file name without the extension.
    public static func slideName(_ path: String) -> String {
        let file = (path as NSString).lastPathComponent
        return (file as NSString).deletingPathExtension.isEmpty ? file : (file as NSString).deletingPathExtension
    }

    public static func write(result: ScreenResult, slide: any Slide, model: ScreenSummary.Model, options: ScreenOptions,
                             output: OutputOptions = OutputOptions(), toolVersion: String, to directory: URL) throws -> ScreenSummary {
        let start = Date()
        let name = slideName(slide.path)
        let fm = FileManager.default
        PartialOutputs.clean(directory)
        let temp = PartialOutputs.partial(name, in: directory)
        try fm.createDirectory(at: temp, withIntermediateDirectories: true)
        do {
            let regions = Regions.find(result, minimumCells: output.minimumRegionCells)
            let map = ProbabilityMap(grid: result.grid)
            var outputs = files(output, classes: result.classNames)
            if map == nil { outputs.removeAll { $0 == "probability.tif" } }
            var summary = ScreenSummary.make(result: result, slide: slide, slideName: name, regions: regions, model: model,
                                             options: options, output: output, toolVersion: toolVersion, outputs: outputs)
            let subtitle = String(format: "tumour fraction %.1f%%, max p %.3f, %d region%@; model %@, stride %d",
                                  100 * summary.tumourFraction, summary.maxProbability ?? 0, regions.count,
                                  regions.count == 1 ? "" : "s", model.name, options.stride)
            // Independent jobs on the engine's threads: the images, the overlay, the tables, and
            // the probability map.
            let jobs = WriteJobs()
            DispatchQueue.concurrentPerform(iterations: 4) { job in
                jobs.run { () throws -> Void in
                    switch job {
                    case 0:
                        let tissuePNG = try PNG.encode(result.mask.overlay())
                        try AtomicFile.write(tissuePNG, to: temp.appendingPathComponent("tissue.png"))
                        jobs.set(tissuePNG: tissuePNG)
                        try PNG.write(Renderings.heatmap(result), to: temp.appendingPathComponent("heatmap.png"))
                        try PNG.write(Renderings.thumbnail(result.mask.thumbnail, maxSize: 256), to: temp.appendingPathComponent("thumbnail.png"))
                        if let classes = result.classNames {
                            if let map = Renderings.classMap(result, title: name) {
                                try PNG.write(map.raster, to: temp.appendingPathComponent("classmap.png"))
                            }
                            for c in heatmapClasses(classes, output) {
                                if let h = Renderings.classHeatmap(result, classIndex: classes.firstIndex(of: c)!) {
                                    try PNG.write(h, to: temp.appendingPathComponent("heatmap-\(fileSafe(c)).png"))
                                }
                            }
                        }
                    case 1:
                        let overlayPNG = try PNG.encode(Renderings.overlay(result, regions: regions, floor: output.heatmapFloor,
                                                                           title: name, subtitle: subtitle).raster)
                        try AtomicFile.write(overlayPNG, to: temp.appendingPathComponent("overlay.png"))
                        jobs.set(overlayPNG: overlayPNG)
                    case 2:
                        try AtomicFile.write(text: tilesCSV(result), to: temp.appendingPathComponent("tiles.csv"))
                        try AtomicFile.write(QuPathGeoJSON.regions(regions, slideName: name), to: temp.appendingPathComponent("regions.geojson"))
                        if output.tilesGeoJSON {
                            try AtomicFile.write(QuPathGeoJSON.tiles(result, slideName: name), to: temp.appendingPathComponent("tiles.geojson"))
                        }
                    default:
                        try map?.write(result, slideName: name, to: temp.appendingPathComponent("probability.tif"))
                    }
                }
            }
            let (tissuePNG, overlayPNG) = try jobs.outcome()
            if output.viewer {
                try DeepZoomViewer.write(result: result, slide: slide, regions: regions, output: output, title: name, into: temp)
            }
            try AtomicFile.write(text: Report.html(summary: summary, regions: regions, overlayPNG: overlayPNG, tissuePNG: tissuePNG),
                                 to: temp.appendingPathComponent("report.html"))
            summary.timings.writeSeconds = Date().timeIntervalSince(start)
            summary.timings.totalSeconds += summary.timings.writeSeconds
            summary.timings.tilesPerSecond = Double(summary.tiles.withTissue) / max(1e-9, summary.timings.totalSeconds)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(Array(try encoder.encode(summary)), to: temp.appendingPathComponent("summary.json"))

            // Swap the finished folder in.
            try PartialOutputs.swapIn(temp, as: name, in: directory)
            return summary
        } catch {
            try? fm.removeItem(at: temp)
            throw error
        }
    }

    /// One row per screened cell, in level-0 pixels.
    static func tilesCSV(_ result: ScreenResult) -> String {
        // A multi-class model adds every class's probability, as p_<class>.
        let classes = result.classNames ?? [], k = classes.count
        var csv = Array(("x,y,width,height,row,column,tissue_fraction,probability" + classes.map { ",p_" + fileSafe($0) }.joined() + "\n").utf8)
        let g = result.grid
        // One C format call per row: Foundation's String(format:) is several times slower,
        // which showed on slides with tens of thousands of rows.
        var line = [CChar](repeating: 0, count: 160)
        for (i, p) in result.probabilities.enumerated() {
            guard let p else { continue }
            let r = g.cellLevel0(column: i % g.columns, row: i / g.columns)
            let args: [CVarArg] = [Int(r.x.rounded()), Int(r.y.rounded()), Int(r.width.rounded()), Int(r.height.rounded()),
                                   i / g.columns, i % g.columns, result.tissueFractions[i], Double(p)]
            let n = withVaList(args) { vsnprintf(&line, line.count, k > 0 ? "%ld,%ld,%ld,%ld,%ld,%ld,%.4f,%.6f" : "%ld,%ld,%ld,%ld,%ld,%ld,%.4f,%.6f\n", $0) }
            line.withUnsafeBytes { csv.append(contentsOf: $0.prefix(Int(n))) }
            if k > 0, let all = result.classProbabilities {
                for j in 0..<k {
                    let m = withVaList([Double(all[i * k + j])]) { vsnprintf(&line, line.count, ",%.6f", $0) }
                    line.withUnsafeBytes { csv.append(contentsOf: $0.prefix(Int(m))) }
                }
                csv.append(10)
            }
        }
        return String(decoding: csv, as: UTF8.self)
    }

    /// The outcome of the concurrent write jobs: the first error, and the PNGs the report embeds.
    private final class WriteJobs: @unchecked Sendable {  // guarded by `lock`
        private let lock = NSLock()
        private let failure = FirstError()
        private var tissuePNG: [UInt8]?, overlayPNG: [UInt8]?
        func run(_ body: () throws -> Void) { failure.run(body) }
        func set(tissuePNG: [UInt8]) { lock.lock(); self.tissuePNG = tissuePNG; lock.unlock() }
        func set(overlayPNG: [UInt8]) { lock.lock(); self.overlayPNG = overlayPNG; lock.unlock() }
        func outcome() throws -> (tissue: [UInt8], overlay: [UInt8]) {
            try failure.check()
            lock.lock()
            defer { lock.unlock() }
            return (tissuePNG!, overlayPNG!)
        }
    }

    /// Checks that `directory` exists (creating it) and can be written, before any work.
    public static func prepare(_ directory: URL) throws(ScreenError) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ScreenError(path: directory.relativePath, problem: "the output path exists and is not a folder")
            }
        } else {
            // Name the first part of the path that is a file, rather than Foundation's error 512.
            var parent = directory.deletingLastPathComponent()
            while parent.path != "/" && !fm.fileExists(atPath: parent.path) { parent = parent.deletingLastPathComponent() }
            if fm.fileExists(atPath: parent.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw ScreenError(path: directory.relativePath, problem: "cannot create the output folder: \(parent.relativePath) is a file, not a folder")
            }
            do {
                try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw ScreenError(path: directory.relativePath, problem: "cannot create the output folder: \((error as NSError).localizedDescription)")
            }
        }
        let probe = directory.appendingPathComponent(".histoscreen-write-test-\(getpid())")
        guard fm.createFile(atPath: probe.path, contents: Data()) else {
            throw ScreenError(path: directory.relativePath, problem: "the output folder is not writable",
                              hint: "choose another --out, or fix its permissions")
        }
        try? fm.removeItem(at: probe)
    }

    /// SHA-256 of a bundle's model.json followed by its weights.safetensors.
    public static func modelHash(_ bundle: URL) -> String {
        var h = SHA256()
        for name in ["model.json", "weights.safetensors"] {
            if let data = FileManager.default.contents(atPath: bundle.appendingPathComponent(name).path) { h.update(data) }
        }
        return h.finalize()
    }
}

/// The first error thrown by work run on several threads.
final class FirstError: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var error: Error?
    func run(_ body: () throws -> Void) {
        do { try body() } catch { lock.lock(); if self.error == nil { self.error = error }; lock.unlock() }
    }
    func check() throws {
        lock.lock(); defer { lock.unlock() }
        if let error { throw error }
    }
}

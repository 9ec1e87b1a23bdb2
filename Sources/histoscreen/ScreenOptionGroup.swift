import ArgumentParser
import Foundation
import Neural
import Screening

/// The options `screen` and `triage` share: the model and how slides are screened.
struct ScreenOptionGroup: ParsableArguments {
    @Option(help: "Model bundle, or an ONNX file with --model-mpp and --normalization (default: the bundled \(ModelLocation.defaultName)).")
    var model: String?

    @OptionGroup var onnx: ONNXOptions

    @Option(parsing: .unconditional, help: "Cell size in model pixels (default: the model's window, no overlap): for a 96-pixel PCam model 96, 48, or 32 (each cell is a window's PCam centre region).")
    var stride: Int?

    @Option(parsing: .unconditional, help: "µm per pixel of level 0, for slides without resolution metadata (overrides the metadata).")
    var mpp: Double?

    @Option(parsing: .unconditional, help: "Decision threshold (default: the model's default operating point, chosen on validation data).")
    var threshold: Double?

    @Option(help: "The model's operating point: screening (sensitivity ≥ 0.95 on validation slides) or balanced (Youden's J).")
    var operatingPoint: String?

    @Flag(help: "Average the 8 flips and rotations of each window (8× slower).")
    var tta = false

    @Option(parsing: .unconditional, help: "Minimum tissue fraction for a cell to be screened (0–1; 0 screens every cell).")
    var minTissue = 0.5

    @Option(parsing: .unconditional, help: "Windows per inference batch (1–\(Self.maximumBatch)).")
    var batch = 64

    @Flag(help: "Screen slides that need more than \(Screener.defaultCellLimit) cells.")
    var force = false

    @Option(parsing: .unconditional, help: "Leave regions of fewer cells out of the region list (tiles.csv keeps every cell).")
    var minRegionCells = 1

    @Option(parsing: .unconditional, help: "Probabilities below this are not shaded on the overlay and in the viewer (0–1).")
    var heatmapFloor = 0.1

    @Flag(help: "Also write tiles.geojson: every screened cell as a QuPath tile with its probability (for measurement maps).")
    var tilesGeojson = false

    @Flag(help: "Also write a zoomable viewer: viewer.html with a DeepZoom pyramid of the slide and heatmap.")
    var viewer = false

    @Option(parsing: .unconditional, help: "µm per pixel of the viewer's most detailed level (0.25–16).")
    var viewerMpp = 2.0

    @Option(help: "For a multi-class model: the classes that get a heatmap-<class>.png, comma-separated, or all or none (default: all).")
    var classHeatmaps: String?

    /// 4,096 windows of 96 × 96 × 3 floats are 450 MB of input; larger batches gain nothing.
    static let maximumBatch = 4096

    func validate() throws {
        if let stride, !(2...4096).contains(stride) || stride % 2 != 0 {
            throw ValidationError("--stride must be an even number of model pixels from 2 to 4096 (96, 48 or 32 for a 96-pixel model)")
        }
        guard (0...1).contains(minTissue) else { throw ValidationError("--min-tissue must be between 0 and 1") }
        if let threshold, !(threshold > 0 && threshold < 1) { throw ValidationError("--threshold must be between 0 and 1") }
        if let operatingPoint, !OperatingPoints.names.contains(operatingPoint) {
            throw ValidationError("--operating-point must be \(OperatingPoints.names.joined(separator: " or "))")
        }
        if threshold != nil && operatingPoint != nil { throw ValidationError("give --threshold or --operating-point, not both") }
        if let mpp, !Screener.plausibleMPP.contains(mpp) {
            throw ValidationError("--mpp \(mpp) is outside \(Screener.plausibleMPP.lowerBound)–\(Screener.plausibleMPP.upperBound) µm per pixel "
                                  + "(about 0.25 for a 40× scan, 0.5 for 20×)")
        }
        guard minRegionCells >= 1 else { throw ValidationError("--min-region-cells must be at least 1") }
        guard (0...1).contains(heatmapFloor) else { throw ValidationError("--heatmap-floor must be between 0 and 1") }
        guard (0.25...16).contains(viewerMpp) else { throw ValidationError("--viewer-mpp must be between 0.25 and 16 µm per pixel") }
        guard (1...Self.maximumBatch).contains(batch) else { throw ValidationError("--batch must be between 1 and \(Self.maximumBatch)") }
    }

    /// The screening options for a model whose window is `window` pixels.
    func screenOptions(window: Int) -> ScreenOptions {
        var options = ScreenOptions()
        options.stride = stride ?? window
        options.mppOverride = mpp
        options.threshold = threshold
        options.testTimeAugmentation = tta
        options.minimumTissue = minTissue
        options.batchSize = batch
        return options
    }

    var outputOptions: OutputOptions {
        var output = OutputOptions()
        output.minimumRegionCells = minRegionCells
        output.heatmapFloor = heatmapFloor
        output.tilesGeoJSON = tilesGeojson
        output.viewer = viewer
        output.viewerMPP = viewerMpp
        switch classHeatmaps {
        case nil, "all": output.classHeatmaps = nil
        case "none": output.classHeatmaps = []
        case let list?: output.classHeatmaps = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return output
    }

    /// A screener for `bundle` with this command's cell limit.
    func screener(_ bundle: ModelBundle) -> Screener {
        let screener = Screener(bundle: bundle)
        screener.cellLimit = force ? nil : Screener.defaultCellLimit
        return screener
    }

    /// The model bundle, loaded, with what summaries record about it.
    func loadModel() throws -> (bundle: ModelBundle, info: ScreenSummary.Model) {
        let url = try ModelLocation.resolve(model)
        var bundle = url.pathExtension.lowercased() == "onnx"
            ? try ModelBundle.importONNX(url, settings: try onnx.settings(for: url.relativePath))
            : try ModelBundle.load(from: url)
        if let positive = onnx.positive, url.pathExtension.lowercased() != "onnx" {
            bundle = try bundle.withPositiveClass(positive)
        }
        if let wanted = outputOptions.classHeatmaps, let unknown = wanted.first(where: { !(bundle.manifest.classes ?? []).contains($0) }) {
            throw ModelBundleError(path: url.relativePath, problem: "--class-heatmaps \(unknown) is not one of its classes (\((bundle.manifest.classes ?? ["tumour"]).joined(separator: ", ")))")
        }
        if operatingPoint != nil {
            do {
                bundle.manifest.threshold = try bundle.manifest.threshold(operatingPoint: operatingPoint)
            } catch {
                throw ModelBundleError(path: url.relativePath, problem: error.problem, hint: error.hint)
            }
        }
        let info = ScreenSummary.Model(name: bundle.manifest.name, path: url.relativePath, sha256: ScreenWriter.modelHash(url),
                                       architecture: bundle.manifest.architecture.name, micronsPerPixel: bundle.manifest.micronsPerPixel)
        return (bundle, info)
    }
}

import Foundation
import Imaging
import Neural
import Slides
import Training

/// Settings of a screen.
public struct ScreenOptions: Sendable, Codable, Equatable {
    /// Cell edge in target pixels: 96 (no overlap), 48 or 32 (the PCam centre region).
    public var stride = 96
    /// µm per level-0 pixel to use instead of the slide's metadata.
    public var mppOverride: Double?
    /// Decision threshold; nil uses the model bundle's.
    public var threshold: Double?
    /// Average the 8 flips and rotations of each window.
    public var testTimeAugmentation = false
    /// A cell is screened when at least this fraction of it is tissue (0 screens every cell).
    public var minimumTissue = 0.5
    /// Windows per inference batch.
    public var batchSize = 64
    public init() {}
}

/// Why a slide could not be screened.
public struct ScreenError: FileProblem, Equatable {
    public var path: String
    public var problem: String
    public var hint: String?
    public init(path: String, problem: String, hint: String? = nil) { self.path = path; self.problem = problem; self.hint = hint }
}

/// The per-cell result of screening one slide.
public struct ScreenResult: Sendable {
    public var grid: TileGrid
    public var plan: ReadPlan
    public var mask: TissueMask
    public var resolutionSource: Resolution.Source
    /// Per cell (row-major): the tissue fraction, and the probability where screened.
    public var tissueFractions: [Double]
    public var probabilities: [Float?]
    /// For a multi-class model: every class's probability per cell (cells × classes, row-major;
    /// zero where not screened) and the class names, in output order.
    public var classProbabilities: [Float]? = nil
    public var classNames: [String]? = nil
    public var positiveClass: String? = nil
    public var threshold: Double
    /// Tissue detection (thumbnail read and mask), before any window is read.
    public var tissueSeconds: Double = 0
    public var readSeconds: Double
    /// CPU time of the reader thread (decoding and resampling), which on a machine with as
    /// many cores as engine threads is taken from inference.
    public var readCPUSeconds: Double = 0
    public var inferenceSeconds: Double
    public var totalSeconds: Double
    public var screenedCells: Int { probabilities.lazy.filter { $0 != nil }.count }

    /// For a multi-class model, each cell's most probable class (its index; −1 where not screened).
    public func mostProbableClasses() -> [Int] {
        guard let all = classProbabilities, let k = classNames?.count, k > 0 else { return [] }
        return probabilities.indices.map { i in
            guard probabilities[i] != nil else { return -1 }
            var best = 0
            for j in 1..<k where all[i * k + j] > all[i * k + best] { best = j }
            return best
        }
    }
}

/// Screens slides with a model: tissue detection, tiling at the model's resolution, and
/// streaming batched inference.
///
/// A reader thread reads bands of windows and fills batches into a bounded queue (two
/// batches deep), while the calling thread runs inference on the engine's worker threads:
/// reading and decoding overlap with compute, and memory does not grow with the slide.
public final class Screener: @unchecked Sendable {  // set up before use, then read only; screen() keeps its state local
    public let bundle: ModelBundle
    public let engine: any PatchClassifier

    public init(bundle: ModelBundle) {
        self.bundle = bundle
        self.engine = bundle.classifier()
    }

    public var window: Int { bundle.manifest.architecture.inputShape[0] }

    /// µm per level-0 pixel that screening accepts. Slide scanners record 0.1–1 µm/px (a 60×
    /// scan about 0.15, a 5× overview about 2); 0.05–20 leaves room for any microscope image
    /// of tissue, and anything outside is a metadata error or a wrong --mpp.
    public static let plausibleMPP = 0.05...20.0
    /// Cells screened without --force: a 100,000 × 100,000-pixel slide at 0.25 µm/px has about
    /// 650,000 cells at stride 32, so 4 million is a slide several times larger than any real one.
    public static let defaultCellLimit = 4_000_000
    /// Cells screened even with --force: the per-cell arrays must fit in memory.
    public static let hardCellLimit = 200_000_000
    /// The cell limit for this screener (nil: only `hardCellLimit`, as with --force).
    public var cellLimit: Int? = Screener.defaultCellLimit

    static let mppHint = "pass the scanner's resolution with --mpp, e.g. --mpp 0.25 for a 40× scan or --mpp 0.5 for 20×; "
        + "check it against the scanner's documentation rather than guessing from the objective"

    /// The slide's µm per pixel and its source, or an error that says how to give it.
    public static func resolution(of slide: any Slide, override: Double?) throws(ScreenError) -> (x: Double, y: Double, source: Resolution.Source) {
        let range = "\(plausibleMPP.lowerBound)–\(plausibleMPP.upperBound) µm/px"
        if let override {
            guard override.isFinite, plausibleMPP.contains(override) else {
                throw ScreenError(path: slide.path, problem: "--mpp \(override) is outside the \(range) that microscopy of tissue gives",
                                  hint: "--mpp is micrometres per level-0 pixel: about 0.25 for a 40× scan, 0.5 for 20×")
            }
            return (override, override, .user)
        }
        let r = slide.metadata.resolution
        guard let x = r.mppX, let y = r.mppY else {
            throw ScreenError(path: slide.path, problem: "the slide records no µm per pixel (no openslide.mpp-* property, no TIFF resolution tags)",
                              hint: mppHint)
        }
        if TIFFImage.isScreenDefault(micronsPerPixel: x) || TIFFImage.isScreenDefault(micronsPerPixel: y) {
            throw ScreenError(path: slide.path, problem: String(format: "the slide records %.2f × %.2f µm per pixel: the 72 or 96 dpi default of "
                                                                + "image software, not a measurement", x, y), hint: mppHint)
        }
        guard x.isFinite, y.isFinite, plausibleMPP.contains(x), plausibleMPP.contains(y) else {
            throw ScreenError(path: slide.path, problem: "the slide records \(x) × \(y) µm per pixel, outside the \(range) that microscopy of tissue gives",
                              hint: "if the metadata is wrong, " + mppHint)
        }
        return (x, y, r.source)
    }

    /// Checks the grid's size before it is built: a cell count past `cellLimit` (or
    /// `hardCellLimit`) is refused, computed in floating point so that no size can overflow.
    public func checkGridSize(_ slide: any Slide, mppX: Double, mppY: Double, stride: Int) throws(ScreenError) {
        let size = slide.metadata.sizeLevel0
        let target = bundle.manifest.micronsPerPixel
        let columns = max(1, (Double(size.width) * mppX / target / Double(stride)).rounded(.up))
        let rows = max(1, (Double(size.height) * mppY / target / Double(stride)).rounded(.up))
        let cells = columns * rows
        guard cells.isFinite, cells <= Double(Self.hardCellLimit) else {
            throw ScreenError(path: slide.path, problem: String(format: "the slide would need %.3g cells at stride %d, more than the %d the "
                                                                + "per-cell maps can hold", cells, stride, Self.hardCellLimit),
                              hint: "check the slide's size and µm per pixel (`histoscreen info`), or screen at --stride 96")
        }
        if let cellLimit, cells > Double(cellLimit) {
            throw ScreenError(path: slide.path, problem: String(format: "the slide would need %.0f cells (%.0f × %.0f) at stride %d, more than the "
                                                                + "%d screened without --force", cells, columns, rows, stride, cellLimit),
                              hint: "check its size and µm per pixel with `histoscreen info`; if they are right, pass --force")
        }
    }

    public func screen(_ slide: any Slide, options: ScreenOptions,
                       progress: (_ done: Int, _ total: Int, _ tilesPerSecond: Double) -> Void = { _, _, _ in }) throws -> ScreenResult {
        let start = Date()
        let mpp = try Self.resolution(of: slide, override: options.mppOverride)
        guard options.stride > 0 && options.stride <= window && (window - options.stride) % 2 == 0 else {
            throw ScreenError(path: slide.path, problem: "stride \(options.stride) does not centre in a \(window)-pixel window")
        }
        try checkGridSize(slide, mppX: mpp.x, mppY: mpp.y, stride: options.stride)
        let grid = TileGrid(sizeLevel0: slide.metadata.sizeLevel0, mppX: mpp.x, mppY: mpp.y,
                            targetMPP: bundle.manifest.micronsPerPixel, window: window, stride: options.stride)
        let tissueStart = Date()
        let mask = try TissueMask.detect(slide)
        let tissueSeconds = Date().timeIntervalSince(tissueStart)
        var fractions = [Double](repeating: 0, count: grid.cellCount)
        var cellsByRow: [[Int]] = Array(repeating: [], count: grid.rows)
        for row in 0..<grid.rows {
            for column in 0..<grid.columns {
                let c = grid.cellLevel0(column: column, row: row)
                let f = mask.fraction(x: c.x, y: c.y, width: c.width, height: c.height)
                fractions[row * grid.columns + column] = f
                if f >= options.minimumTissue && (f > 0 || options.minimumTissue <= 0) { cellsByRow[row].append(column) }
            }
        }
        let total = cellsByRow.reduce(0) { $0 + $1.count }
        let rowsToRead = cellsByRow
        var probabilities = [Float?](repeating: nil, count: grid.cellCount)
        let reader = WindowReader(slide: slide, grid: grid)

        // Reader thread → bounded queue → inference here.
        let queue = BoundedQueue<WindowBatch>(capacity: 2)
        let readerState = ReaderState()
        let w = window, batchSize = options.batchSize, columns = grid.columns
        let augmenter = PatchAugmenter(normalization: bundle.manifest.normalization, augment: false)
        let views = options.testTimeAugmentation ? Array(0..<8) : [0]
        // Without TTA the reader also normalises each batch, so that this thread only feeds
        // the engine and the normalisation runs alongside inference instead of between batches.
        let readerNormalizes = views == [0]
        let producer = Thread {
            do {
                var batch = WindowBatch(capacity: batchSize, window: w)
                for row in 0..<grid.rows where !rowsToRead[row].isEmpty {
                    for segment in Self.segments(rowsToRead[row], maxGap: 3) {
                        // Busy time only: waiting for room in the queue is not reading.
                        var t0 = Date()
                        let band = try reader.band(row: row, first: segment.first!, last: segment.last!)
                        for column in segment {
                            batch.append(cell: row * columns + column, from: band, x: (column - segment.first!) * grid.stride, window: w)
                            if batch.count == batchSize {
                                if readerNormalizes { batch.normalize(augmenter, window: w) }
                                readerState.addSeconds(Date().timeIntervalSince(t0))
                                if !queue.push(batch) { return }
                                t0 = Date()
                                batch = WindowBatch(capacity: batchSize, window: w)
                            }
                        }
                        readerState.addSeconds(Date().timeIntervalSince(t0))
                    }
                }
                if batch.count > 0 {
                    if readerNormalizes { batch.normalize(augmenter, window: w) }
                    _ = queue.push(batch)
                }
            } catch {
                readerState.fail(error)
            }
            readerState.setCPUSeconds(Self.threadCPUSeconds())
            queue.close()
        }
        producer.stackSize = 1 << 22
        producer.start()

        var inferenceSeconds = 0.0, done = 0
        var input = [Float](repeating: 0, count: readerNormalizes ? 0 : batchSize * w * w * 3)
        let inferenceStart = Date()
        var inferenceError: Error?
        // A multi-class model: keep every class's probability too.
        let multi = (engine as? GraphClassifier).flatMap { $0.classCount > 1 ? $0 : nil }
        let k = multi?.classCount ?? 0
        var classSums = [Float](repeating: 0, count: multi == nil ? 0 : grid.cellCount * k)
        batches: while let batch = queue.pop() {
            let t0 = Date()  // after the batch arrived: waiting for the reader is not inference
            var sums = [Double](repeating: 0, count: batch.count)
            for view in views {
                var p: [Float] = []
                do {
                    func run(_ x: UnsafeBufferPointer<Float>) throws -> [Float] {
                        guard let multi else { return try engine.probabilities(x.baseAddress!, count: batch.count) }
                        let all = try multi.classProbabilities(x.baseAddress!, count: batch.count)
                        for (i, cell) in batch.cells.enumerated() {
                            for j in 0..<k { classSums[cell * k + j] += all[i * k + j] / Float(views.count) }
                        }
                        return (0..<batch.count).map { all[$0 * k + multi.positiveIndex] }
                    }
                    if let normalized = batch.normalized {
                        p = try normalized.withUnsafeBufferPointer { try run($0) }
                    } else {
                        input.withUnsafeMutableBufferPointer { dst in
                            batch.pixels.withUnsafeBufferPointer { src in
                                augmenter.normalize(dst.baseAddress!, from: src.baseAddress!, count: batch.count, view: view, side: w)
                            }
                        }
                        p = try input.withUnsafeBufferPointer { try run($0) }
                    }
                } catch {
                    // Stop reading (closing the queue releases the reader), then report.
                    inferenceError = error
                    break batches
                }
                for i in 0..<batch.count { sums[i] += Double(p[i]) }
            }
            for (i, cell) in batch.cells.enumerated() { probabilities[cell] = Float(sums[i] / Double(views.count)) }
            inferenceSeconds += Date().timeIntervalSince(t0)
            done += batch.count
            progress(done, total, Double(done) / max(1e-9, Date().timeIntervalSince(inferenceStart)))
        }
        queue.close()
        if let inferenceError { throw ScreenError(path: slide.path, problem: "the model failed: \(inferenceError)") }
        if let error = readerState.error {
            if let e = error as? SlideError { throw e }
            throw error
        }
        var result = ScreenResult(grid: grid, plan: reader.plan, mask: mask, resolutionSource: mpp.source, tissueFractions: fractions,
                                  probabilities: probabilities, threshold: options.threshold ?? bundle.manifest.threshold,
                                  readSeconds: readerState.seconds, inferenceSeconds: inferenceSeconds,
                                  totalSeconds: Date().timeIntervalSince(start))
        result.tissueSeconds = tissueSeconds
        result.readCPUSeconds = readerState.cpuSeconds
        if multi != nil {
            result.classProbabilities = classSums
            result.classNames = bundle.manifest.classes
            result.positiveClass = bundle.manifest.classes?[multi!.positiveIndex]
        }
        return result
    }

    /// CPU time the calling thread has used.
    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Runs of columns, split where more than `maxGap` cells lie between neighbours, so that
    /// a band does not read long stretches of glass.
    static func segments(_ columns: [Int], maxGap: Int) -> [[Int]] {
        var out: [[Int]] = []
        for c in columns {
            if let last = out.last?.last, c - last <= maxGap + 1 { out[out.count - 1].append(c) } else { out.append([c]) }
        }
        return out
    }
}

/// Windows cut from bands, with their cell indices; `[count][window][window][3]` bytes.
struct WindowBatch: Sendable {
    var cells: [Int] = []
    var pixels: [UInt8]
    /// The engine's input for the untransformed view, when the reader made it.
    var normalized: [Float]?
    var count: Int { cells.count }

    mutating func normalize(_ augmenter: PatchAugmenter, window: Int) {
        // Uninitialised: normalize writes every element.
        let size = count * window * window * 3
        var out = [Float](unsafeUninitializedCapacity: size) { _, initialized in initialized = size }
        out.withUnsafeMutableBufferPointer { dst in
            pixels.withUnsafeBufferPointer { augmenter.normalize(dst.baseAddress!, from: $0.baseAddress!, count: count, view: 0, side: window) }
        }
        normalized = out
    }

    init(capacity: Int, window: Int) {
        pixels = []
        pixels.reserveCapacity(capacity * window * window * 3)
    }

    mutating func append(cell: Int, from band: Raster, x: Int, window: Int) {
        cells.append(cell)
        band.pixels.withUnsafeBufferPointer { src in
            for y in 0..<window {
                let start = (y * band.width + x) * 3
                pixels.append(contentsOf: src[start..<(start + window * 3)])
            }
        }
    }
}

/// The reader thread's busy time and first error.
final class ReaderState: @unchecked Sendable {
    private let lock = NSLock()
    private var _seconds = 0.0
    private var _error: Error?
    private var _cpuSeconds = 0.0
    func setCPUSeconds(_ s: Double) { lock.lock(); _cpuSeconds = s; lock.unlock() }
    var cpuSeconds: Double { lock.lock(); defer { lock.unlock() }; return _cpuSeconds }
    func addSeconds(_ s: Double) { lock.lock(); _seconds += s; lock.unlock() }
    func fail(_ e: Error) { lock.lock(); if _error == nil { _error = e }; lock.unlock() }
    var seconds: Double { lock.lock(); defer { lock.unlock() }; return _seconds }
    var error: Error? { lock.lock(); defer { lock.unlock() }; return _error }
}

/// A blocking FIFO of bounded capacity: `push` waits while it is full, `pop` while it is empty.
final class BoundedQueue<T: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [T] = []
    private var closed = false
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Returns false (dropping the item) once the queue is closed.
    func push(_ item: T) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        guard !closed else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// The next item, or nil once the queue is closed and drained.
    func pop() -> T? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        guard !items.isEmpty else { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

import Foundation
import Imaging

/// A whole-slide image: a pyramid of levels, readable as RGB regions.
///
/// Frames: a region's origin is given in level-0 pixels (`originLevel0`) and its size in
/// pixels of the level being read (`sizeAtLevel`), as OpenSlide does. Implementations
/// are safe to read from several threads at once.
public protocol Slide: AnyObject, Sendable {
    var metadata: SlideMetadata { get }

    /// Reads RGB pixels of `level`. Parts of the region beyond the slide's edge, and
    /// areas the scanner did not capture, are white (255, 255, 255).
    ///
    /// For pixel-exact reads at level L, give an `originLevel0` that is a multiple of the
    /// level's downsample; otherwise the reader may interpolate.
    ///
    /// - Throws: `SlideError` for a level that does not exist, a non-positive size, a
    ///   region that does not overlap the slide, or a read failure.
    func readRegion(originLevel0: PixelPoint, level: Int, sizeAtLevel: PixelSize) throws(SlideError) -> Raster

    /// Reads an associated image (see `metadata.associatedImages`) as RGB.
    func associatedImage(named name: String) throws(SlideError) -> Raster
}

/// The largest region one read may return, in pixels (768 MiB of RGB).
public let maxRegionPixels = 1 << 28

extension Slide {
    public var path: String { metadata.path }
    public var levelCount: Int { metadata.levels.count }

    /// Checks a region request, throwing the error `readRegion` documents.
    public func validateRegion(originLevel0: PixelPoint, level: Int, sizeAtLevel: PixelSize) throws(SlideError) {
        let levels = metadata.levels
        guard levels.indices.contains(level) else {
            throw .levelOutOfRange(path: path, level: level, levelCount: levels.count)
        }
        guard sizeAtLevel.width > 0, sizeAtLevel.height > 0 else {
            throw .invalidRegionSize(path: path, sizeAtLevel: sizeAtLevel)
        }
        guard sizeAtLevel.width.multipliedReportingOverflow(by: sizeAtLevel.height).partialValue <= maxRegionPixels,
              sizeAtLevel.width <= maxRegionPixels, sizeAtLevel.height <= maxRegionPixels else {
            throw .regionTooLarge(path: path, sizeAtLevel: sizeAtLevel, maxPixels: maxRegionPixels)
        }
        let size0 = metadata.sizeLevel0
        let ds = levels[level].downsample
        let endX = Double(originLevel0.x) + Double(sizeAtLevel.width) * ds
        let endY = Double(originLevel0.y) + Double(sizeAtLevel.height) * ds
        let overlaps = endX > 0 && endY > 0 && originLevel0.x < size0.width && originLevel0.y < size0.height
        guard overlaps else {
            throw .regionOutsideSlide(path: path, originLevel0: originLevel0, sizeAtLevel: sizeAtLevel,
                                      level: level, sizeLevel0: size0)
        }
    }

    /// The level whose downsample is the largest not above `downsample` (level 0 if none).
    public func bestLevel(forDownsample downsample: Double) -> Int {
        var best = 0
        for level in metadata.levels where level.downsample <= downsample * (1 + 1e-6) {
            if level.downsample > metadata.levels[best].downsample { best = level.index }
        }
        return best
    }

    /// An RGB overview of the whole slide that fits in `maxSize`, keeping the aspect ratio.
    ///
    /// It reads the level closest to the needed scale (and no coarser) in horizontal bands,
    /// so memory stays bounded on large slides, and averages the pixels falling into
    /// each output pixel.
    public func thumbnail(maxSize: PixelSize) throws(SlideError) -> Raster {
        precondition(maxSize.width > 0 && maxSize.height > 0, "thumbnail: maxSize \(maxSize) must be positive")
        let size0 = metadata.sizeLevel0
        let scale = max(1, Double(size0.width) / Double(maxSize.width), Double(size0.height) / Double(maxSize.height))
        let outW = max(1, min(maxSize.width, Int((Double(size0.width) / scale).rounded())))
        let outH = max(1, min(maxSize.height, Int((Double(size0.height) / scale).rounded())))
        let level = bestLevel(forDownsample: scale)
        let info = metadata.levels[level]
        let levelW = info.sizeAtLevel.width, levelH = info.sizeAtLevel.height

        // Output rows are accumulated one at a time (level rows map to output rows in order),
        // so the sums take one row of memory rather than the whole thumbnail's.
        var out = Raster(width: outW, height: outH, channels: 3)
        var sums = [UInt32](repeating: 0, count: outW * 3)
        var counts = [UInt32](repeating: 0, count: outW)
        var currentRow = 0
        func flush() {
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for o in 0..<outW {
                    let n = max(1, counts[o])
                    for c in 0..<3 { dst[(currentRow * outW + o) * 3 + c] = UInt8((sums[3 * o + c] + n / 2) / n) }
                }
            }
            for i in sums.indices { sums[i] = 0 }
            for i in counts.indices { counts[i] = 0 }
        }
        let xBin = (0..<levelW).map { min(outW - 1, $0 * outW / levelW) }
        let bandRows = max(1, min(levelH, (1 << 22) / max(1, levelW)))
        var y = 0
        while y < levelH {
            let rows = min(bandRows, levelH - y)
            let origin = PixelPoint(x: 0, y: Int((Double(y) * info.downsample).rounded()))
            let band = try readRegion(originLevel0: origin, level: level, sizeAtLevel: PixelSize(width: levelW, height: rows))
            for r in 0..<rows {
                let oy = min(outH - 1, (y + r) * outH / levelH)
                if oy != currentRow {
                    flush()
                    currentRow = oy
                }
                // Unchecked pointers: this loop visits every pixel of the level (millions), and
                // the bins are in range by construction (xBin is clamped to the output).
                band.pixels.withUnsafeBufferPointer { pxBuffer in
                    sums.withUnsafeMutableBufferPointer { sumBuffer in
                        counts.withUnsafeMutableBufferPointer { countBuffer in
                            xBin.withUnsafeBufferPointer { binBuffer in
                                let sum = sumBuffer.baseAddress!, count = countBuffer.baseAddress!, bin = binBuffer.baseAddress!
                                var p = pxBuffer.baseAddress! + r * levelW * 3
                                for x in 0..<levelW {
                                    let o = bin[x]
                                    sum[3 * o] &+= UInt32(p[0])
                                    sum[3 * o + 1] &+= UInt32(p[1])
                                    sum[3 * o + 2] &+= UInt32(p[2])
                                    count[o] &+= 1
                                    p += 3
                                }
                            }
                        }
                    }
                }
            }
            y += rows
        }
        flush()
        return out
    }
}

/// Opens a slide: OpenSlide for every format it recognises, else an 8-bit RGB/RGBA TIFF
/// or PNG image as a one-level slide.
///
/// - Throws: `SlideError` naming the file: missing, a directory, empty, not a slide,
///   or unreadable.
public func openSlide(at url: URL) throws(SlideError) -> any Slide {
    let path = url.displayPath
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw .notFound(path: path)
    }
    if isDirectory.boolValue { throw .isDirectory(path: path) }
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    if let size = attributes?[.size] as? NSNumber, size.intValue == 0 { throw .emptyFile(path: path) }
    guard FileManager.default.isReadableFile(atPath: path) else {
        throw .notASlide(path: path, reason: "permission denied")
    }

    // NDPI files over 4 GB keep 64-bit offsets in a private scheme that libtiff does not follow;
    // OpenSlide checks those itself.
    if TIFFIntegrity.isTIFF(path) && (path as NSString).pathExtension.lowercased() != "ndpi" { try TIFFIntegrity.check(path) }
    if OpenSlideSlide.canOpen(path) {
        return try OpenSlideSlide(url: url)
    }
    switch try ImageSlide.Kind(sniffing: url) {
    case .png?: return try ImageSlide(url: url, kind: .png)
    case .tiff?: return try ImageSlide(url: url, kind: .tiff)
    case nil:
        throw .notASlide(path: path, reason: "OpenSlide does not recognise it, and it is not a TIFF or PNG image")
    }
}

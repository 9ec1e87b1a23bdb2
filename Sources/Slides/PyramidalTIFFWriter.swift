import CShims
import CTIFF
import Foundation
import Imaging

/// Writes pyramidal tiled TIFF files that OpenSlide opens as `generic-tiff`: one tiled
/// directory per level, level l being `ceil(width / 2^l) × ceil(height / 2^l)`, with
/// resolution tags in pixels per centimetre.
///
/// Tests use it to build slides whose pixels at known coordinates are known; the
/// benchmark generator uses it for large slides. Pixels come from a closure, tile by
/// tile, so memory stays bounded whatever the slide's size.
public struct PyramidalTIFFWriter: Sendable {
    public enum Compression: Sendable, Equatable {
        /// Lossless. Reads back bit-exact.
        case deflate
        /// Lossy JPEG (YCbCr, 2×2 chroma subsampling) at quality 1...100.
        case jpeg(quality: Int)
    }

    public var sizeLevel0: PixelSize
    public var levelCount: Int
    /// Tile edge in pixels; a multiple of 16, as TIFF requires. Levels narrower or shorter
    /// than this get a smaller tile (see `tileSize(atLevel:)`).
    public var tileSize: Int
    public var compression: Compression
    /// µm per level-0 pixel, written as XResolution/YResolution; nil writes no resolution.
    public var micronsPerPixel: (x: Double, y: Double)?
    public var imageDescription: String?
    /// 3 for RGB, or 1 for 8-bit grey (black is 0; deflate only).
    public var channels: Int

    public init(sizeLevel0: PixelSize, levelCount: Int = 1, tileSize: Int = 256, compression: Compression = .deflate,
                micronsPerPixel: (x: Double, y: Double)? = nil, imageDescription: String? = nil, channels: Int = 3) {
        precondition(channels == 3 || (channels == 1 && compression == .deflate),
                     "PyramidalTIFFWriter: \(channels) channels with \(compression); grey images are deflate-compressed")
        precondition(sizeLevel0.width > 0 && sizeLevel0.height > 0, "PyramidalTIFFWriter: empty size \(sizeLevel0)")
        precondition(levelCount >= 1, "PyramidalTIFFWriter: levelCount \(levelCount) must be at least 1")
        precondition(tileSize > 0 && tileSize % 16 == 0, "PyramidalTIFFWriter: tileSize \(tileSize) must be a multiple of 16")
        let f = 1 << (levelCount - 1)
        precondition(sizeLevel0.width / f >= 16 && sizeLevel0.height / f >= 16,
                     "PyramidalTIFFWriter: level \(levelCount - 1) of \(sizeLevel0) would be smaller than 16 px")
        self.sizeLevel0 = sizeLevel0
        self.levelCount = levelCount
        self.tileSize = tileSize
        self.compression = compression
        self.micronsPerPixel = micronsPerPixel
        self.imageDescription = imageDescription
        self.channels = channels
    }

    /// The size of `level`: level 0 halved `level` times, rounding up.
    public func sizeAtLevel(_ level: Int) -> PixelSize {
        let f = 1 << level
        return PixelSize(width: (sizeLevel0.width + f - 1) / f, height: (sizeLevel0.height + f - 1) / f)
    }

    /// The tile edge used for `level`: `tileSize`, shrunk to the largest multiple of 16 that
    /// fits when the level is narrower or shorter than one tile. OpenSlide 3.4.1 (Debian 12)
    /// misreads a generic-TIFF level whose only tile column or row is partial (libtiff itself
    /// decodes it correctly), so the writer never produces one.
    public func tileSize(atLevel level: Int) -> Int {
        let size = sizeAtLevel(level)
        return min(tileSize, size.width / 16 * 16, size.height / 16 * 16)
    }

    /// Writes the file atomically (to a temporary beside `url`, then renamed).
    ///
    /// - Parameter tile: returns the RGB pixels of the rectangle at `originAtLevel` of
    ///   `sizeAtLevel` (clipped to the level, so edge tiles are smaller) of `level`, with
    ///   `channels` channels.
    public func write(
        to url: URL,
        tile: (_ level: Int, _ originAtLevel: PixelPoint, _ sizeAtLevel: PixelSize) throws -> Raster
    ) throws {
        let temp = AtomicFile.temporaryURL(besides: url)
        // BigTIFF once the raw pixels pass 2 GiB, so offsets cannot overflow.
        let big = sizeLevel0.width * sizeLevel0.height * channels > Int(Int32.max)
        let channels = channels
        guard let tif = TIFFImage.open(temp.path, mode: big ? "w8" : "w") else {
            throw SlideError.unwritable(path: url.displayPath, reason: TIFFImage.lastError(default: "cannot create file"))
        }
        var closed = false
        defer {
            if !closed { TIFFClose(tif); try? FileManager.default.removeItem(at: temp) }
        }
        func fail(_ what: String) -> SlideError {
            .unwritable(path: url.displayPath, reason: "\(what): \(TIFFImage.lastError(default: "libtiff error"))")
        }

        for level in 0..<levelCount {
            let size = sizeAtLevel(level)
            let tileSize = tileSize(atLevel: level)
            try setTags(tif, size: size, level: level, tileSize: tileSize, fail: fail)
            var buffer = [UInt8](repeating: 0, count: tileSize * tileSize * channels)
            for ty in stride(from: 0, to: size.height, by: tileSize) {
                for tx in stride(from: 0, to: size.width, by: tileSize) {
                    let w = min(tileSize, size.width - tx), h = min(tileSize, size.height - ty)
                    let pixels = try tile(level, PixelPoint(x: tx, y: ty), PixelSize(width: w, height: h))
                    precondition(pixels.width == w && pixels.height == h && pixels.channels == channels,
                                 "PyramidalTIFFWriter: tile closure returned \(pixels.width)×\(pixels.height)×"
                                 + "\(pixels.channels) for a \(w)×\(h)×\(channels) tile")
                    // TIFF tiles are always full size; pad edge tiles by repeating the last
                    // column and row, which compresses well and keeps JPEG edges clean.
                    for y in 0..<tileSize {
                        let sy = min(y, h - 1)
                        for x in 0..<tileSize {
                            let sx = min(x, w - 1)
                            let s = (sy * w + sx) * channels, d = (y * tileSize + x) * channels
                            for c in 0..<channels { buffer[d + c] = pixels.pixels[s + c] }
                        }
                    }
                    let index = TIFFComputeTile(tif, UInt32(tx), UInt32(ty), 0, 0)
                    let written = buffer.withUnsafeMutableBytes {
                        TIFFWriteEncodedTile(tif, index, $0.baseAddress, tmsize_t($0.count))
                    }
                    guard written >= 0 else { throw fail("writing tile (\(tx), \(ty)) of level \(level)") }
                }
            }
            guard TIFFWriteDirectory(tif) != 0 else { throw fail("writing level \(level)") }
        }
        TIFFClose(tif)
        closed = true
        do {
            try AtomicFile.commit(temporary: temp, to: url)
        } catch {
            throw SlideError(error)
        }
    }

    private func setTags(_ tif: OpaquePointer, size: PixelSize, level: Int, tileSize: Int, fail: (String) -> SlideError) throws {
        var ok = true
        ok = ok && hs_tiff_set_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), UInt32(size.width)) != 0
        ok = ok && hs_tiff_set_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), UInt32(size.height)) != 0
        ok = ok && hs_tiff_set_u32(tif, UInt32(TIFFTAG_TILEWIDTH), UInt32(tileSize)) != 0
        ok = ok && hs_tiff_set_u32(tif, UInt32(TIFFTAG_TILELENGTH), UInt32(tileSize)) != 0
        ok = ok && hs_tiff_set_u16(tif, UInt32(TIFFTAG_BITSPERSAMPLE), 8) != 0
        ok = ok && hs_tiff_set_u16(tif, UInt32(TIFFTAG_SAMPLESPERPIXEL), UInt16(channels)) != 0
        ok = ok && hs_tiff_set_u16(tif, UInt32(TIFFTAG_PLANARCONFIG), UInt16(PLANARCONFIG_CONTIG)) != 0
        if level > 0 {
            ok = ok && hs_tiff_set_u32(tif, UInt32(TIFFTAG_SUBFILETYPE), UInt32(FILETYPE_REDUCEDIMAGE)) != 0
        }
        switch compression {
        case .deflate:
            ok = ok && hs_tiff_set_u16(tif, UInt32(TIFFTAG_COMPRESSION), UInt16(COMPRESSION_ADOBE_DEFLATE)) != 0
            ok = ok && hs_tiff_set_u16(tif, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(channels == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB)) != 0
            ok = ok && hs_tiff_set_u16(tif, UInt32(TIFFTAG_PREDICTOR), UInt16(PREDICTOR_HORIZONTAL)) != 0
        case let .jpeg(quality):
            precondition((1...100).contains(quality), "PyramidalTIFFWriter: JPEG quality \(quality) is outside 1...100")
            ok = ok && hs_tiff_set_u16(tif, UInt32(TIFFTAG_COMPRESSION), UInt16(COMPRESSION_JPEG)) != 0
            ok = ok && hs_tiff_set_u16(tif, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(PHOTOMETRIC_YCBCR)) != 0
            ok = ok && hs_tiff_set_ycbcr_subsampling(tif, 2, 2) != 0
            ok = ok && hs_tiff_set_int(tif, UInt32(TIFFTAG_JPEGQUALITY), Int32(quality)) != 0
            // libtiff converts the RGB we hand it to YCbCr.
            ok = ok && hs_tiff_set_int(tif, UInt32(TIFFTAG_JPEGCOLORMODE), Int32(JPEGCOLORMODE_RGB)) != 0
        }
        if let mpp = micronsPerPixel {
            let factor = Double(1 << level)
            ok = ok && hs_tiff_set_u16(tif, UInt32(TIFFTAG_RESOLUTIONUNIT), UInt16(RESUNIT_CENTIMETER)) != 0
            ok = ok && hs_tiff_set_double(tif, UInt32(TIFFTAG_XRESOLUTION), 10_000 / (mpp.x * factor)) != 0
            ok = ok && hs_tiff_set_double(tif, UInt32(TIFFTAG_YRESOLUTION), 10_000 / (mpp.y * factor)) != 0
        }
        if level == 0, let description = imageDescription {
            ok = ok && hs_tiff_set_string(tif, UInt32(TIFFTAG_IMAGEDESCRIPTION), description) != 0
        }
        guard ok else { throw fail("setting the tags of level \(level)") }
    }
}

import CShims
import CTIFF
import Foundation
import Imaging

/// Reads the tiled levels of TIFF-based slides (generic tiled TIFF and Aperio SVS) by decoding
/// their tiles with libtiff, bypassing OpenSlide's region compositing.
///
/// OpenSlide 3.4 paints every tile into the region through cairo, and on this machine that
/// costs more than the JPEG decoding itself (measured: pixman 6.9 % of a whole screen's CPU
/// time against 2.2 % for libjpeg). The pixels are the same ones OpenSlide gives: the same
/// libjpeg decodes the same tiles, and tests compare the two readers pixel for pixel.
///
/// Only levels that map one-to-one onto a tiled, 8-bit, 3-sample, contiguous RGB or YCbCr
/// directory with a codec libtiff has (JPEG, deflate, LZW, none) are served here; for any
/// other level (JPEG 2000 Aperio tiles, for one) `read` returns nil and the caller uses
/// OpenSlide. Decoded tiles are kept in a small LRU cache, so bands that overlap vertically
/// (stride 32 and 48) decode each tile once.
final class TIFFTileReader: @unchecked Sendable {  // all mutable state is behind `lock`
    private struct Directory {
        let index: UInt32
        let width: Int, height: Int
        let tileWidth: Int, tileHeight: Int
        let isYCbCrJPEG: Bool
        var tilesAcross: Int { (width + tileWidth - 1) / tileWidth }
    }

    private let path: String
    private let tif: OpaquePointer
    /// Per slide level: its directory, or nil when OpenSlide must read it.
    private let directories: [Directory?]
    private let lock = NSLock()
    private var current: UInt32 = .max
    private var cache: [TileKey: CachedTile] = [:]
    private var clock = 0
    private var cachedBytes = 0
    private var _cacheLimit: Int
    /// Bound on the decoded tiles kept (RGB bytes).
    var cacheLimit: Int {
        get { lock.lock(); defer { lock.unlock() }; return _cacheLimit }
        set { lock.lock(); _cacheLimit = newValue; lock.unlock() }
    }

    private struct TileKey: Hashable { let level: Int, tile: Int }
    private struct CachedTile { var pixels: [UInt8]; var lastUse: Int }

    /// A reader for `path` when it is a TIFF with at least one level this reader can serve.
    init?(path: String, levels: [SlideLevel], cacheLimit: Int = 48 << 20) {
        guard let tif = TIFFImage.open(path, mode: "rm") else { return nil }
        var found: [PixelSize: Directory] = [:]  // the first tiled directory of each size
        var index: UInt32 = 0
        repeat {
            if TIFFIsTiled(tif) != 0, let d = Self.describe(tif, index: index) {
                let size = PixelSize(width: d.width, height: d.height)
                if found[size] == nil { found[size] = d }
            }
            index += 1
        } while TIFFReadDirectory(tif) != 0
        let mapped = levels.map { found[$0.sizeAtLevel] }
        guard mapped.contains(where: { $0 != nil }) else { TIFFClose(tif); return nil }
        self.path = path
        self.tif = tif
        self.directories = mapped
        self._cacheLimit = cacheLimit
    }

    deinit { TIFFClose(tif) }

    /// Whether `level` is decoded here.
    func serves(level: Int) -> Bool { directories.indices.contains(level) && directories[level] != nil }

    /// The current directory's layout, when it is one this reader decodes.
    private static func describe(_ tif: OpaquePointer, index: UInt32) -> Directory? {
        var width: UInt32 = 0, height: UInt32 = 0, tw: UInt32 = 0, th: UInt32 = 0
        var bits: UInt16 = 0, samples: UInt16 = 0, planar: UInt16 = 0, photometric: UInt16 = 0, compression: UInt16 = 0
        guard hs_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), &width) != 0,
              hs_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), &height) != 0,
              hs_tiff_get_u32(tif, UInt32(TIFFTAG_TILEWIDTH), &tw) != 0,
              hs_tiff_get_u32(tif, UInt32(TIFFTAG_TILELENGTH), &th) != 0,
              hs_tiff_get_u16(tif, UInt32(TIFFTAG_PHOTOMETRIC), &photometric) != 0 else { return nil }
        _ = hs_tiff_get_defaulted_u16(tif, UInt32(TIFFTAG_BITSPERSAMPLE), &bits)
        _ = hs_tiff_get_defaulted_u16(tif, UInt32(TIFFTAG_SAMPLESPERPIXEL), &samples)
        _ = hs_tiff_get_defaulted_u16(tif, UInt32(TIFFTAG_PLANARCONFIG), &planar)
        _ = hs_tiff_get_defaulted_u16(tif, UInt32(TIFFTAG_COMPRESSION), &compression)
        let codecs: Set<UInt16> = [UInt16(COMPRESSION_NONE), UInt16(COMPRESSION_LZW), UInt16(COMPRESSION_JPEG),
                                   UInt16(COMPRESSION_ADOBE_DEFLATE), UInt16(COMPRESSION_DEFLATE)]
        let isJPEG = compression == UInt16(COMPRESSION_JPEG)
        let isYCbCr = photometric == UInt16(PHOTOMETRIC_YCBCR)
        guard bits == 8, samples == 3, planar == UInt16(PLANARCONFIG_CONTIG), codecs.contains(compression),
              photometric == UInt16(PHOTOMETRIC_RGB) || (isYCbCr && isJPEG),  // YCbCr without JPEG is not upsampled by libtiff
              width > 0, height > 0, tw > 0, th > 0, TIFFIsCODECConfigured(compression) != 0 else { return nil }
        return Directory(index: index, width: Int(width), height: Int(height), tileWidth: Int(tw), tileHeight: Int(th),
                         isYCbCrJPEG: isJPEG && isYCbCr)
    }

    /// The RGB pixels of `level` (one this reader `serves`) in the rectangle at (`x`, `y`)
    /// (level pixels) of the given size; parts beyond the level and tiles the file leaves out
    /// are white.
    func read(level: Int, x: Int, y: Int, width: Int, height: Int) throws(SlideError) -> Raster {
        precondition(serves(level: level), "TIFFTileReader.read: level \(level) is not decoded directly")
        let d = directories[level]!
        var out = Raster(width: width, height: height, channels: 3, fill: [255, 255, 255])
        let x0 = max(0, x), y0 = max(0, y), x1 = min(d.width, x + width), y1 = min(d.height, y + height)
        guard x0 < x1, y0 < y1 else { return out }
        lock.lock()
        defer { lock.unlock() }
        for ty in (y0 / d.tileHeight)...((y1 - 1) / d.tileHeight) {
            for tx in (x0 / d.tileWidth)...((x1 - 1) / d.tileWidth) {
                let tile = ty * d.tilesAcross + tx
                guard let pixels = try tilePixels(level: level, directory: d, tile: tile) else { continue }  // absent: white
                // The part of this tile inside both the level and the request.
                let ox = tx * d.tileWidth, oy = ty * d.tileHeight
                let cx0 = max(x0, ox), cx1 = min(x1, ox + d.tileWidth), cy0 = max(y0, oy), cy1 = min(y1, oy + d.tileHeight)
                let rowBytes = (cx1 - cx0) * 3
                pixels.withUnsafeBufferPointer { src in
                    out.pixels.withUnsafeMutableBufferPointer { dst in
                        for row in cy0..<cy1 {
                            let s = ((row - oy) * d.tileWidth + (cx0 - ox)) * 3
                            let t = ((row - y) * width + (cx0 - x)) * 3
                            (dst.baseAddress! + t).update(from: src.baseAddress! + s, count: rowBytes)
                        }
                    }
                }
            }
        }
        return out
    }

    /// A decoded tile (`tileWidth × tileHeight × 3`), from the cache or the file; nil for a
    /// tile the file leaves out (byte count 0, as Aperio does for blank areas).
    private func tilePixels(level: Int, directory d: Directory, tile: Int) throws(SlideError) -> [UInt8]? {
        let key = TileKey(level: level, tile: tile)
        clock += 1
        if var hit = cache[key] {
            hit.lastUse = clock
            cache[key] = hit
            return hit.pixels
        }
        if current != d.index {
            hs_tiff_clear_error()
            guard TIFFSetDirectory(tif, d.index) != 0 else {
                throw .openSlide(path: path, message: TIFFImage.lastError(default: "cannot select TIFF directory \(d.index)"))
            }
            current = d.index
            // Reset with every directory change: libtiff then upsamples and converts to RGB.
            if d.isYCbCrJPEG { _ = hs_tiff_set_int(tif, UInt32(TIFFTAG_JPEGCOLORMODE), Int32(JPEGCOLORMODE_RGB)) }
        }
        guard TIFFGetStrileByteCount(tif, UInt32(tile)) > 0 else { return nil }
        let size = d.tileWidth * d.tileHeight * 3
        var pixels = [UInt8](repeating: 255, count: size)
        hs_tiff_clear_error()
        let n = pixels.withUnsafeMutableBytes { TIFFReadEncodedTile(tif, UInt32(tile), $0.baseAddress, tmsize_t(size)) }
        let reported = String(cString: hs_tiff_last_error())
        guard n >= 0, reported.isEmpty else {
            throw .openSlide(path: path, message: "tile \(tile) of directory \(d.index): "
                             + TIFFImage.lastError(default: "could not be decoded") + " (the file may be truncated or damaged)")
        }
        cache[key] = CachedTile(pixels: pixels, lastUse: clock)
        cachedBytes += size
        if cachedBytes > _cacheLimit { evict() }
        return pixels
    }

    /// Drops the least recently used half of the cache.
    private func evict() {
        let byAge = cache.sorted { $0.value.lastUse < $1.value.lastUse }
        for (key, tile) in byAge.prefix(byAge.count / 2) {
            cache[key] = nil
            cachedBytes -= tile.pixels.count
        }
    }
}

import CJPEG
import Foundation

/// Baseline and progressive JPEG through libjpeg-turbo's TurboJPEG API, which reports errors
/// by return code rather than libjpeg's longjmp. Decoding is strict: libjpeg's warnings, such
/// as "premature end of JPEG file" for a truncated file, are errors here, because a damaged
/// patch decoded as grey would be trained on or scored as if it were tissue.
public enum JPEG {
    /// The largest image decoded (2^26 pixels: far above a patch; JPEG is not read for slides here).
    public static let maximumPixels = 1 << 26

    /// Decodes a JPEG file to 8-bit RGB (grey and CMYK files are converted).
    public static func read(_ url: URL) throws(ImagingError) -> Raster {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .unreadable(path: url.displayPath, reason: "the file cannot be opened")
        }
        return try decode([UInt8](data), name: url.displayPath)
    }

    /// Decodes JPEG bytes held in memory to RGB; `name` is used in errors.
    public static func decode(_ bytes: [UInt8], name: String = "<memory>") throws(ImagingError) -> Raster {
        guard let handle = tjInitDecompress() else { throw .unreadable(path: name, reason: "TurboJPEG could not start") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer { b in
            tjDecompressHeader3(handle, b.baseAddress, UInt(b.count), &width, &height, &subsampling, &colorspace)
        }
        guard header == 0 else { throw .unreadable(path: name, reason: message(handle)) }
        let w = Int(width), h = Int(height)
        guard w > 0, h > 0, w.multipliedReportingOverflow(by: h).partialValue <= maximumPixels, w <= maximumPixels, h <= maximumPixels else {
            throw .unsupported(path: name, reason: "size \(w)×\(h) is empty or larger than \(maximumPixels) pixels")
        }
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        let status = bytes.withUnsafeBufferPointer { b in
            pixels.withUnsafeMutableBufferPointer { p in
                tjDecompress2(handle, b.baseAddress, UInt(b.count), p.baseAddress, width, 0, height,
                              Int32(TJPF_RGB.rawValue), TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING)
            }
        }
        guard status == 0 else { throw .unreadable(path: name, reason: message(handle)) }
        return Raster(width: w, height: h, channels: 3, pixels: pixels)
    }

    /// Encodes an RGB raster as baseline JPEG with 4:2:0 chroma subsampling (what scanners
    /// and the PatchCamelyon JPEG copies use) at `quality` 1...100.
    public static func encode(_ raster: Raster, quality: Int) throws(ImagingError) -> [UInt8] {
        guard raster.channels == 3, (1...100).contains(quality) else {
            throw .unwritable(path: "<jpeg>", reason: "JPEG encodes RGB at quality 1...100 (got \(raster.channels) channels, quality \(quality))")
        }
        guard let handle = tjInitCompress() else { throw .unwritable(path: "<jpeg>", reason: "TurboJPEG could not start") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = raster.pixels.withUnsafeBufferPointer { p in
            tjCompress2(handle, p.baseAddress, Int32(raster.width), 0, Int32(raster.height), Int32(TJPF_RGB.rawValue),
                        &buffer, &size, Int32(TJSAMP_420.rawValue), Int32(quality), TJFLAG_ACCURATEDCT)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else { throw .unwritable(path: "<jpeg>", reason: message(handle)) }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }

    /// Encodes `raster` at `quality` and decodes it again: the artefacts a JPEG-compressed copy
    /// of the image carries (blocking, ringing, chroma blur).
    public static func roundTrip(_ raster: Raster, quality: Int) throws(ImagingError) -> Raster {
        try decode(try encode(raster, quality: quality))
    }

    private static func message(_ handle: tjhandle) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "libjpeg-turbo reported an error" }
        return String(cString: text)
    }
}

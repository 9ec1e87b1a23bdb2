import CShims
import CTIFF
import Foundation

/// Plain (non-pyramidal) TIFF files through libtiff.
public enum TIFFImage {
    /// The decoded pixels of a TIFF's first directory, and its physical pixel size when
    /// the resolution tags give one.
    public struct Decoded: Sendable {
        /// RGB, or RGBA when the file has an extra (alpha) sample.
        public var raster: Raster
        /// µm per pixel from XResolution/YResolution with ResolutionUnit inch or
        /// centimetre; nil when the tags are absent or the unit is "none".
        public var micronsPerPixel: (x: Double, y: Double)?
    }

    /// Decodes an 8-bit RGB or RGBA TIFF (any compression libtiff reads).
    public static func read(_ url: URL) throws(ImagingError) -> Decoded {
        let path = url.displayPath
        guard let tif = open(path, mode: "r") else {
            throw .unreadable(path: path, reason: lastError(default: "not a TIFF file"))
        }
        defer { TIFFClose(tif) }

        var width: UInt32 = 0, height: UInt32 = 0
        var bits: UInt16 = 0, samples: UInt16 = 0, photometric: UInt16 = 0
        guard hs_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), &width) != 0,
              hs_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), &height) != 0 else {
            throw .unreadable(path: path, reason: "missing ImageWidth/ImageLength")
        }
        _ = hs_tiff_get_defaulted_u16(tif, UInt32(TIFFTAG_BITSPERSAMPLE), &bits)
        _ = hs_tiff_get_defaulted_u16(tif, UInt32(TIFFTAG_SAMPLESPERPIXEL), &samples)
        _ = hs_tiff_get_u16(tif, UInt32(TIFFTAG_PHOTOMETRIC), &photometric)
        let colour = photometric == UInt16(PHOTOMETRIC_RGB) || photometric == UInt16(PHOTOMETRIC_YCBCR)
        guard bits == 8, samples == 3 || samples == 4, colour else {
            throw .unsupported(
                path: path,
                reason: "\(bits)-bit, \(samples) samples per pixel, photometric \(photometric); expected 8-bit RGB or RGBA")
        }
        let w = Int(width), h = Int(height)
        guard w > 0, h > 0, w * h <= 1 << 30 else {
            throw .unsupported(path: path, reason: "size \(w)×\(h) is empty or larger than 2^30 pixels")
        }

        // TIFFReadRGBAImageOriented gives one packed ABGR word per pixel (R in the low byte).
        var abgr = [UInt32](repeating: 0, count: w * h)
        hs_tiff_clear_error()
        let ok = abgr.withUnsafeMutableBufferPointer {
            TIFFReadRGBAImageOriented(tif, width, height, $0.baseAddress, ORIENTATION_TOPLEFT, 1)
        }
        // stop = 1: a strip or tile that cannot be read fails the image instead of staying blank,
        // and so does any error libtiff reported on the way.
        let reported = String(cString: hs_tiff_last_error())
        guard ok != 0, reported.isEmpty else {
            throw .unreadable(path: path, reason: lastError(default: "pixel data could not be decoded") + " (the file may be truncated or damaged)")
        }
        let channels = samples == 4 ? 4 : 3
        var raster = Raster(width: w, height: h, channels: channels)
        raster.pixels.withUnsafeMutableBufferPointer { dst in
            for i in 0..<(w * h) {
                let p = abgr[i]
                dst[i * channels] = UInt8(truncatingIfNeeded: p)
                dst[i * channels + 1] = UInt8(truncatingIfNeeded: p >> 8)
                dst[i * channels + 2] = UInt8(truncatingIfNeeded: p >> 16)
                if channels == 4 { dst[i * 4 + 3] = UInt8(truncatingIfNeeded: p >> 24) }
            }
        }
        return Decoded(raster: raster, micronsPerPixel: resolution(tif))
    }

    /// µm per pixel from the resolution tags of the current directory, as OpenSlide 4
    /// derives `openslide.mpp-*` for generic TIFF.
    static func resolution(_ tif: OpaquePointer) -> (x: Double, y: Double)? {
        var xres: Float = 0, yres: Float = 0, unit: UInt16 = 0
        guard hs_tiff_get_float(tif, UInt32(TIFFTAG_XRESOLUTION), &xres) != 0,
              hs_tiff_get_float(tif, UInt32(TIFFTAG_YRESOLUTION), &yres) != 0,
              hs_tiff_get_defaulted_u16(tif, UInt32(TIFFTAG_RESOLUTIONUNIT), &unit) != 0 else { return nil }
        return micronsPerPixel(xResolution: Double(xres), yResolution: Double(yres), unit: Int(unit))
    }

    /// Converts TIFF resolution (pixels per unit) to µm per pixel. `unit` is the
    /// ResolutionUnit value: 2 = inch, 3 = centimetre; 1 ("none") gives nil.
    public static func micronsPerPixel(xResolution: Double, yResolution: Double, unit: Int) -> (x: Double, y: Double)? {
        let micronsPerUnit: Double
        switch unit {
        case Int(RESUNIT_INCH): micronsPerUnit = 25_400
        case Int(RESUNIT_CENTIMETER): micronsPerUnit = 10_000
        default: return nil
        }
        guard xResolution.isFinite, yResolution.isFinite, xResolution > 0, yResolution > 0 else { return nil }
        let mpp = (x: micronsPerUnit / xResolution, y: micronsPerUnit / yResolution)
        return isScreenDefault(micronsPerPixel: mpp.x) || isScreenDefault(micronsPerPixel: mpp.y) ? nil : mpp
    }

    /// Whether `mpp` is what a 72 or 96 dpi default of image software gives (352.8 or 264.6
    /// µm/px, within 0.5 % for rounding to pixels per centimetre): a default written when the
    /// software knew nothing, not a measurement of a microscope.
    public static func isScreenDefault(micronsPerPixel mpp: Double) -> Bool {
        [72.0, 96.0].contains { abs(mpp / (25_400 / $0) - 1) < 0.005 }
    }

    /// Opens a TIFF with libtiff's messages captured rather than printed.
    public static func open(_ path: String, mode: String) -> OpaquePointer? {
        installHandlers
        hs_tiff_clear_error()
        return TIFFOpen(path, mode)
    }

    /// The last libtiff error on this thread, or `fallback` when libtiff gave none.
    public static func lastError(default fallback: String) -> String {
        let message = String(cString: hs_tiff_last_error())
        return message.isEmpty ? fallback : message
    }

    private static let installHandlers: Void = hs_tiff_capture_errors()
}

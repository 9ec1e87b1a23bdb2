import CPNG
import Foundation

/// PNG files through libpng's simplified API (`png_image_*`), which reports errors in
/// `png_image.message` rather than by longjmp, so no C shim is needed.
public enum PNG {
    /// Decodes a PNG file to 8-bit samples: RGBA when the file has an alpha channel or a
    /// transparent colour, RGB otherwise (grey and palette images are expanded to RGB).
    public static func read(_ url: URL) throws(ImagingError) -> Raster {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&image, url.path) != 0 else {
            let reason = message(of: &image)
            png_image_free(&image)
            throw .unreadable(path: url.displayPath, reason: reason)
        }
        return try finishRead(&image, path: url.displayPath)
    }

    /// Decodes PNG bytes held in memory (see `read(_:)`); `name` is used in errors.
    public static func decode(_ bytes: [UInt8], name: String = "<memory>") throws(ImagingError) -> Raster {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else {
            let reason = message(of: &image)
            png_image_free(&image)
            throw .unreadable(path: name, reason: reason)
        }
        return try finishRead(&image, path: name)
    }

    private static func finishRead(_ image: inout png_image, path: String) throws(ImagingError) -> Raster {
        let hasAlpha = image.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
        let channels = hasAlpha ? 4 : 3
        image.format = hasAlpha ? UInt32(PNG_FORMAT_RGB) | UInt32(PNG_FORMAT_FLAG_ALPHA) : UInt32(PNG_FORMAT_RGB)
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width * height <= 1 << 30 else {
            png_image_free(&image)
            throw .unsupported(path: path, reason: "size \(width)×\(height) is empty or larger than 2^30 pixels")
        }
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        let ok = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else {
            let reason = message(of: &image)
            png_image_free(&image)
            throw .unreadable(path: path, reason: reason)
        }
        return Raster(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Encodes a raster (grey, RGB or RGBA) as PNG bytes.
    public static func encode(_ raster: Raster) throws(ImagingError) -> [UInt8] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(raster.width)
        image.height = UInt32(raster.height)
        image.format = switch raster.channels {
        case 1: UInt32(PNG_FORMAT_GRAY)
        case 3: UInt32(PNG_FORMAT_RGB)
        default: UInt32(PNG_FORMAT_RGB) | UInt32(PNG_FORMAT_FLAG_ALPHA)
        }
        // Speed over size: libpng's fast setting (zlib level 1, cheaper filter choice) writes
        // heatmaps and overlays several times faster for files about a fifth larger.
        image.flags |= UInt32(PNG_IMAGE_FLAG_FAST)
        // One compression pass into a buffer sized for incompressible data (zlib's bound plus
        // PNG chunk overhead); libpng reports the size it needs if that was still too small.
        let raw = (raster.width * raster.channels + 1) * raster.height
        var size = raw + raw / 64 + 4096
        var out = [UInt8](repeating: 0, count: size)
        var written = raster.pixels.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { png_image_write_to_memory(&image, $0.baseAddress, &size, 0, src.baseAddress, 0, nil) }
        }
        if written == 0 && size > out.count {
            out = [UInt8](repeating: 0, count: size)
            written = raster.pixels.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { png_image_write_to_memory(&image, $0.baseAddress, &size, 0, src.baseAddress, 0, nil) }
            }
        }
        guard written != 0 else {
            throw .unwritable(path: "<png>", reason: message(of: &image))
        }
        out.removeSubrange(size...)
        return out
    }

    /// Encodes and writes a PNG file atomically (temporary file, then rename).
    public static func write(_ raster: Raster, to url: URL) throws(ImagingError) {
        let bytes: [UInt8]
        do {
            bytes = try encode(raster)
        } catch {
            throw .unwritable(path: url.displayPath, reason: "\(error)")
        }
        try AtomicFile.write(bytes, to: url)
    }

    private static func message(of image: inout png_image) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return text.isEmpty ? "libpng reported an error" : text
    }
}

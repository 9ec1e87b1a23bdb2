import Foundation
import Imaging

/// A plain 8-bit RGB or RGBA TIFF or PNG image as a one-level slide, so that a single
/// 96×96 patch or a large PNG can be screened like a whole slide. The image is decoded
/// once and held in memory; alpha is composited over white.
public final class ImageSlide: Slide, Sendable {
    public enum Kind: Sendable {
        case tiff, png

        /// Recognises PNG and TIFF by their magic numbers; nil for anything else.
        public init?(sniffing url: URL) throws(SlideError) {
            guard let handle = FileHandle(forReadingAtPath: url.path) else {
                throw .notASlide(path: url.displayPath, reason: "cannot open the file for reading")
            }
            defer { try? handle.close() }
            let head = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
            if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
                self = .png
            } else if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A])
                        || head.starts(with: [0x49, 0x49, 0x2B, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2B]) {
                self = .tiff
            } else {
                return nil
            }
        }
    }

    public let metadata: SlideMetadata
    /// The decoded image, RGB.
    public let image: Raster

    public init(url: URL, kind: Kind) throws(SlideError) {
        let path = url.displayPath
        let resolution: Resolution
        let reader: String
        do {
            switch kind {
            case .png:
                image = try PNG.read(url).toRGB()
                resolution = .unknown
                reader = "libpng"
            case .tiff:
                let decoded = try TIFFImage.read(url)
                image = decoded.raster.toRGB()
                resolution = decoded.micronsPerPixel.map { Resolution(mppX: $0.x, mppY: $0.y, source: .tiffResolution) }
                    ?? .unknown
                reader = "libtiff"
            }
        } catch {
            throw SlideError(error)
        }
        metadata = SlideMetadata(
            path: path, format: kind == .png ? "png" : "tiff", reader: reader,
            levels: [SlideLevel(index: 0, sizeAtLevel: PixelSize(width: image.width, height: image.height), downsample: 1)],
            resolution: resolution, objectivePower: nil, quickHash1: nil, associatedImages: [], properties: [:])
    }

    public func readRegion(originLevel0: PixelPoint, level: Int, sizeAtLevel: PixelSize) throws(SlideError) -> Raster {
        try validateRegion(originLevel0: originLevel0, level: level, sizeAtLevel: sizeAtLevel)
        // Copy the overlap; the rest stays white.
        var out = Raster(width: sizeAtLevel.width, height: sizeAtLevel.height, channels: 3, fill: [255, 255, 255])
        let x0 = max(0, originLevel0.x), y0 = max(0, originLevel0.y)
        let x1 = min(image.width, originLevel0.x + sizeAtLevel.width)
        let y1 = min(image.height, originLevel0.y + sizeAtLevel.height)
        let rowBytes = (x1 - x0) * 3
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for y in y0..<y1 {
                    let s = (y * image.width + x0) * 3
                    let d = ((y - originLevel0.y) * sizeAtLevel.width + (x0 - originLevel0.x)) * 3
                    for i in 0..<rowBytes { dst[d + i] = src[s + i] }
                }
            }
        }
        return out
    }

    public func associatedImage(named name: String) throws(SlideError) -> Raster {
        throw .noSuchAssociatedImage(path: path, name: name, available: [])
    }
}

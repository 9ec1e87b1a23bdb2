import COpenSlide
import Foundation
import Imaging

/// A slide read through OpenSlide: Aperio, Hamamatsu, Leica, MIRAX, Philips, Sakura,
/// Trestle, Ventana and generic tiled TIFF.
///
/// One instance owns one `openslide_t` handle and closes it on deinit. OpenSlide handles
/// are thread-safe. An OpenSlide error is sticky: after one, every later call on the
/// handle fails, so each call here checks `openslide_get_error` and throws at once.
public final class OpenSlideSlide: Slide, @unchecked Sendable {
    public let metadata: SlideMetadata
    private let handle: OpaquePointer
    /// Direct tile decoding for generic-TIFF and Aperio levels libtiff can decode; nil when
    /// disabled or when no level qualifies.
    private let tiles: TIFFTileReader?
    /// Per level: nil until the first read compares the direct decoder with OpenSlide, then
    /// whether they agreed (and the direct decoder is used).
    private var directAgrees: [Bool?]
    private let verifyLock = NSLock()

    /// Set `HISTOSCREEN_OPENSLIDE_ONLY=1` to read every region through OpenSlide.
    public static let directTilesEnabled = ProcessInfo.processInfo.environment["HISTOSCREEN_OPENSLIDE_ONLY"] != "1"

    /// True when OpenSlide recognises the file's format (a cheap check: no full open).
    public static func canOpen(_ path: String) -> Bool {
        openslide_detect_vendor(path) != nil
    }

    /// The OpenSlide library version, e.g. "3.4.1".
    public static var libraryVersion: String { String(cString: openslide_get_version()) }

    /// Opens `url`; `directTiles: false` reads every region through OpenSlide.
    public init(url: URL, directTiles: Bool = OpenSlideSlide.directTilesEnabled) throws(SlideError) {
        let path = url.displayPath
        guard let handle = openslide_open(path) else {
            throw .notASlide(path: path, reason: "OpenSlide does not recognise the format")
        }
        if let message = Self.error(of: handle) {
            openslide_close(handle)
            throw .openSlide(path: path, message: message)
        }
        self.handle = handle
        do {
            metadata = try Self.readMetadata(handle, path: path)
        } catch {
            openslide_close(handle)
            throw error
        }
        let vendor = metadata.format
        tiles = directTiles && (vendor == "generic-tiff" || vendor == "aperio")
            ? TIFFTileReader(path: path, levels: metadata.levels) : nil
        directAgrees = Array(repeating: nil, count: metadata.levels.count)
    }

    /// The bound, in bytes, on decoded tiles the direct reader keeps (48 MiB by default).
    public var directTileCacheLimit: Int {
        get { tiles?.cacheLimit ?? 0 }
        set { tiles?.cacheLimit = newValue }
    }

    /// Whether regions of `level` that start on a whole level pixel are decoded directly
    /// rather than through OpenSlide (known after the level's first such read).
    public func readsDirectly(level: Int) -> Bool {
        verifyLock.lock()
        defer { verifyLock.unlock() }
        return directAgrees.indices.contains(level) && directAgrees[level] == true
    }

    deinit { openslide_close(handle) }

    public func readRegion(originLevel0: PixelPoint, level: Int, sizeAtLevel: PixelSize) throws(SlideError) -> Raster {
        try validateRegion(originLevel0: originLevel0, level: level, sizeAtLevel: sizeAtLevel)
        if let tiles, tiles.serves(level: level) {
            // The direct decoder reads whole level pixels. OpenSlide interpolates an origin that
            // falls between level pixels (level-0 origins that are not a multiple of the
            // downsample), so only reads whose origin is a whole level pixel are decoded here:
            // every read of level 0, and for example a thumbnail's read of a whole level.
            let ds = metadata.levels[level].downsample
            let fx = Double(originLevel0.x) / ds, fy = Double(originLevel0.y) / ds
            let x = Int(fx.rounded()), y = Int(fy.rounded())
            if abs(fx - Double(x)) < 1e-9 && abs(fy - Double(y)) < 1e-9, try useDirect(level: level, tiles: tiles) {
                return try tiles.read(level: level, x: x, y: y, width: sizeAtLevel.width, height: sizeAtLevel.height)
            }
        }
        return try readThroughOpenSlide(originLevel0: originLevel0, level: level, sizeAtLevel: sizeAtLevel)
    }

    /// On a level's first read, decodes a region directly and through OpenSlide and keeps the
    /// direct path only if the two give the same pixels. This guards against TIFF variants
    /// that libtiff decodes differently (colour handling of JPEG tiles, for one). The region
    /// starts on a whole level pixel: in the level's middle where the downsample is an integer,
    /// else at the level's origin (the only such pixel a non-integer downsample may have).
    private func useDirect(level: Int, tiles: TIFFTileReader) throws(SlideError) -> Bool {
        verifyLock.lock()
        defer { verifyLock.unlock() }
        if let known = directAgrees[level] { return known }
        let info = metadata.levels[level]
        let w = min(512, info.sizeAtLevel.width), h = min(512, info.sizeAtLevel.height)
        let whole = info.downsample == info.downsample.rounded()
        let x = whole ? (info.sizeAtLevel.width - w) / 2 : 0, y = whole ? (info.sizeAtLevel.height - h) / 2 : 0
        let origin = PixelPoint(x: Int((Double(x) * info.downsample).rounded()), y: Int((Double(y) * info.downsample).rounded()))
        let reference = try readThroughOpenSlide(originLevel0: origin, level: level, sizeAtLevel: PixelSize(width: w, height: h))
        let direct = try tiles.read(level: level, x: x, y: y, width: w, height: h)
        directAgrees[level] = direct == reference
        return directAgrees[level]!
    }

    private func readThroughOpenSlide(originLevel0: PixelPoint, level: Int, sizeAtLevel: PixelSize) throws(SlideError) -> Raster {
        let count = sizeAtLevel.width * sizeAtLevel.height
        var argb = [UInt32](repeating: 0, count: count)
        argb.withUnsafeMutableBufferPointer {
            openslide_read_region(handle, $0.baseAddress, Int64(originLevel0.x), Int64(originLevel0.y), Int32(level),
                                  Int64(sizeAtLevel.width), Int64(sizeAtLevel.height))
        }
        if let message = Self.error(of: handle) {
            // Where it failed, so that a damaged region can be found in the file.
            throw .openSlide(path: path, message: "\(message) (reading level \(level), \(sizeAtLevel.width)×\(sizeAtLevel.height) px "
                             + "at level-0 (\(originLevel0.x), \(originLevel0.y)))")
        }
        return Self.rgbOverWhite(argb, width: sizeAtLevel.width, height: sizeAtLevel.height)
    }

    public func associatedImage(named name: String) throws(SlideError) -> Raster {
        guard let info = metadata.associatedImages.first(where: { $0.name == name }) else {
            throw .noSuchAssociatedImage(path: path, name: name, available: metadata.associatedImages.map(\.name))
        }
        var argb = [UInt32](repeating: 0, count: info.size.width * info.size.height)
        argb.withUnsafeMutableBufferPointer { openslide_read_associated_image(handle, name, $0.baseAddress) }
        try check()
        return Self.rgbOverWhite(argb, width: info.size.width, height: info.size.height)
    }

    // MARK: - Private

    private func check() throws(SlideError) {
        if let message = Self.error(of: handle) { throw .openSlide(path: path, message: message) }
    }

    private static func error(of handle: OpaquePointer) -> String? {
        openslide_get_error(handle).map { String(cString: $0) }
    }

    /// OpenSlide gives premultiplied ARGB; compositing over white is `c + (255 - a)`.
    private static func rgbOverWhite(_ argb: [UInt32], width: Int, height: Int) -> Raster {
        var out = Raster(width: width, height: height, channels: 3)
        out.pixels.withUnsafeMutableBufferPointer { dst in
            argb.withUnsafeBufferPointer { src in
                for i in 0..<src.count {
                    let p = src[i]
                    let fill = 255 - UInt8(truncatingIfNeeded: p >> 24)
                    dst[3 * i] = UInt8(truncatingIfNeeded: p >> 16) &+ fill
                    dst[3 * i + 1] = UInt8(truncatingIfNeeded: p >> 8) &+ fill
                    dst[3 * i + 2] = UInt8(truncatingIfNeeded: p) &+ fill
                }
            }
        }
        return out
    }

    private static func strings(_ list: UnsafePointer<UnsafePointer<CChar>?>?) -> [String] {
        guard let list else { return [] }
        var out: [String] = []
        var i = 0
        while let item = list[i] {
            out.append(String(cString: item))
            i += 1
        }
        return out
    }

    private static func readMetadata(_ handle: OpaquePointer, path: String) throws(SlideError) -> SlideMetadata {
        func check() throws(SlideError) {
            if let message = error(of: handle) { throw .openSlide(path: path, message: message) }
        }
        let count = Int(openslide_get_level_count(handle))
        try check()
        guard count > 0 else { throw .openSlide(path: path, message: "the slide has no levels") }
        var levels: [SlideLevel] = []
        for level in 0..<count {
            var w: Int64 = -1, h: Int64 = -1
            openslide_get_level_dimensions(handle, Int32(level), &w, &h)
            let downsample = openslide_get_level_downsample(handle, Int32(level))
            try check()
            levels.append(SlideLevel(index: level, sizeAtLevel: PixelSize(width: Int(w), height: Int(h)),
                                     downsample: downsample))
        }
        var properties: [String: String] = [:]
        for name in strings(openslide_get_property_names(handle)) {
            if let value = openslide_get_property_value(handle, name) { properties[name] = String(cString: value) }
        }
        var associated: [AssociatedImageInfo] = []
        for name in strings(openslide_get_associated_image_names(handle)) {
            var w: Int64 = -1, h: Int64 = -1
            openslide_get_associated_image_dimensions(handle, name, &w, &h)
            if w > 0 && h > 0 {
                associated.append(AssociatedImageInfo(name: name, size: PixelSize(width: Int(w), height: Int(h))))
            }
        }
        try check()
        return SlideMetadata(
            path: path,
            format: properties["openslide.vendor"] ?? "unknown",
            reader: "OpenSlide \(libraryVersion)",
            levels: levels,
            resolution: resolution(from: properties),
            objectivePower: properties["openslide.objective-power"].flatMap(Double.init),
            quickHash1: properties["openslide.quickhash-1"],
            associatedImages: associated.sorted { $0.name < $1.name },
            properties: properties)
    }

    /// µm per pixel: `openslide.mpp-x/y` first; else the TIFF resolution tags, as
    /// OpenSlide 4 does for generic TIFF (OpenSlide 3.4 does not); else unknown.
    static func resolution(from properties: [String: String]) -> Resolution {
        if let x = properties["openslide.mpp-x"].flatMap(Double.init),
           let y = properties["openslide.mpp-y"].flatMap(Double.init), x > 0, y > 0 {
            return Resolution(mppX: x, mppY: y, source: .openslideMPP)
        }
        if let xres = properties["tiff.XResolution"].flatMap(Double.init),
           let yres = properties["tiff.YResolution"].flatMap(Double.init) {
            let unit: Int? = switch properties["tiff.ResolutionUnit"]?.lowercased() {
            case "inch"?: 2
            case "centimeter"?, "centimetre"?: 3
            default: nil
            }
            if let unit, let mpp = TIFFImage.micronsPerPixel(xResolution: xres, yResolution: yres, unit: unit) {
                return Resolution(mppX: mpp.x, mppY: mpp.y, source: .tiffResolution)
            }
        }
        return .unknown
    }
}

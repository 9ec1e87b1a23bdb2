/// One level of a slide's pyramid.
public struct SlideLevel: Sendable, Equatable, Codable {
    /// 0 is the full-resolution level.
    public var index: Int
    /// The level's size in its own pixels.
    public var sizeAtLevel: PixelSize
    /// Level-0 pixels per pixel of this level (1 at level 0).
    public var downsample: Double

    public init(index: Int, sizeAtLevel: PixelSize, downsample: Double) {
        self.index = index
        self.sizeAtLevel = sizeAtLevel
        self.downsample = downsample
    }
}

/// The physical size of a level-0 pixel, and where that figure came from.
public struct Resolution: Sendable, Equatable, Codable {
    /// Where a slide's µm-per-pixel figure came from.
    public enum Source: String, Sendable, Codable {
        /// OpenSlide's `openslide.mpp-x` / `openslide.mpp-y` properties (the vendor metadata).
        case openslideMPP = "openslide.mpp"
        /// The TIFF `XResolution`/`YResolution` tags with `ResolutionUnit` inch or
        /// centimetre, as OpenSlide 4 uses for generic TIFF.
        case tiffResolution = "tiff.resolution"
        /// Given by the user (`--mpp`).
        case user
        /// Not known: the slide carries no usable resolution metadata.
        case unknown
    }

    /// µm per level-0 pixel along x, or nil when unknown.
    public var mppX: Double?
    /// µm per level-0 pixel along y, or nil when unknown.
    public var mppY: Double?
    public var source: Source

    public init(mppX: Double?, mppY: Double?, source: Source) {
        self.mppX = mppX
        self.mppY = mppY
        self.source = source
    }

    public static let unknown = Resolution(mppX: nil, mppY: nil, source: .unknown)

    /// True when both axes are known.
    public var isKnown: Bool { mppX != nil && mppY != nil }
}

/// The name and size of an associated (non-pyramid) image: thumbnail, label, macro.
public struct AssociatedImageInfo: Sendable, Equatable, Codable {
    public var name: String
    public var size: PixelSize
    public init(name: String, size: PixelSize) { self.name = name; self.size = size }
}

/// What HistoScreen knows about a slide before reading any pixels.
public struct SlideMetadata: Sendable, Equatable, Codable {
    /// The path the slide was opened from.
    public var path: String
    /// The format: an OpenSlide vendor (`aperio`, `hamamatsu`, `mirax`, `generic-tiff`, ...)
    /// or `tiff` / `png` for plain images.
    public var format: String
    /// The library that reads it, with its version, e.g. `OpenSlide 3.4.1`.
    public var reader: String
    /// The pyramid, level 0 first.
    public var levels: [SlideLevel]
    public var resolution: Resolution
    /// The scanner's objective power (e.g. 20 for a 20× scan), when recorded.
    /// This is not a resolution; use `resolution` for µm per pixel.
    public var objectivePower: Double?
    /// OpenSlide's `openslide.quickhash-1`, a hash of the slide's identifying data.
    public var quickHash1: String?
    /// Thumbnail, label, macro and other associated images.
    public var associatedImages: [AssociatedImageInfo]
    /// The reader's raw properties (vendor metadata), sorted by key.
    public var properties: [String: String]

    public init(path: String, format: String, reader: String, levels: [SlideLevel], resolution: Resolution,
                objectivePower: Double?, quickHash1: String?, associatedImages: [AssociatedImageInfo],
                properties: [String: String]) {
        self.path = path
        self.format = format
        self.reader = reader
        self.levels = levels
        self.resolution = resolution
        self.objectivePower = objectivePower
        self.quickHash1 = quickHash1
        self.associatedImages = associatedImages
        self.properties = properties
    }

    /// The size of level 0 in its own pixels.
    public var sizeLevel0: PixelSize { levels[0].sizeAtLevel }
}

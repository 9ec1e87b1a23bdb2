import Imaging

/// Why a slide could not be opened or read. Every message names the file; some add a
/// `HINT:` line that says what to do next.
public enum SlideError: Error, Equatable, CustomStringConvertible {
    case notFound(path: String)
    case isDirectory(path: String)
    case emptyFile(path: String)
    /// Neither OpenSlide nor the plain-image readers recognise the file.
    case notASlide(path: String, reason: String)
    /// OpenSlide reported an error. OpenSlide errors are sticky: the handle is unusable after one.
    case openSlide(path: String, message: String)
    /// A plain image that could not be decoded or is in an unsupported pixel format.
    case image(path: String, reason: String)
    case levelOutOfRange(path: String, level: Int, levelCount: Int)
    case invalidRegionSize(path: String, sizeAtLevel: PixelSize)
    case regionOutsideSlide(path: String, originLevel0: PixelPoint, sizeAtLevel: PixelSize, level: Int, sizeLevel0: PixelSize)
    case regionTooLarge(path: String, sizeAtLevel: PixelSize, maxPixels: Int)
    case noSuchAssociatedImage(path: String, name: String, available: [String])
    /// The slide could not be written (test-slide writer).
    case unwritable(path: String, reason: String)
    /// The file's structure is broken: truncated, or a directory or offset points nowhere.
    case damaged(path: String, reason: String)

    public var path: String {
        switch self {
        case let .notFound(path), let .isDirectory(path), let .emptyFile(path),
             let .notASlide(path, _), let .openSlide(path, _), let .image(path, _),
             let .levelOutOfRange(path, _, _), let .invalidRegionSize(path, _),
             let .regionOutsideSlide(path, _, _, _, _), let .regionTooLarge(path, _, _),
             let .noSuchAssociatedImage(path, _, _), let .unwritable(path, _), let .damaged(path, _):
            path
        }
    }

    public var description: String {
        switch self {
        case let .notFound(path):
            "\(path): no such file\nHINT: check the path; slides are passed as files, not folders"
        case let .isDirectory(path):
            "\(path): is a directory, not a slide file\n"
                + "HINT: pass the slide file itself (for MIRAX, the .mrxs file beside its folder)"
        case let .emptyFile(path):
            "\(path): the file is empty (0 bytes)\nHINT: the copy or download may have failed; fetch the slide again"
        case let .notASlide(path, reason):
            "\(path): not a slide that HistoScreen can read: \(reason)\n"
                + "HINT: supported are the formats OpenSlide reads (Aperio .svs, Hamamatsu .ndpi, MIRAX .mrxs, "
                + "tiled TIFF, ...) and 8-bit RGB/RGBA TIFF or PNG images"
        case let .openSlide(path, message):
            "\(path): OpenSlide error: \(message)\nHINT: the file may be truncated or corrupt"
        case let .image(path, reason):
            "\(path): \(reason)"
        case let .damaged(path, reason):
            "\(path): the file is damaged: \(reason)\nHINT: copy or download the slide again; the scanner's original is needed"
        case let .levelOutOfRange(path, level, count):
            "\(path): level \(level) does not exist; the slide has \(count) level\(count == 1 ? "" : "s") (0...\(count - 1))"
        case let .invalidRegionSize(path, size):
            "\(path): invalid region size \(size) at level; width and height must be positive"
        case let .regionOutsideSlide(path, origin, size, level, size0):
            "\(path): region at level-0 origin \(origin), size \(size) at level \(level), lies outside the slide "
                + "(level 0 is \(size0))"
        case let .regionTooLarge(path, size, maxPixels):
            "\(path): region \(size) is larger than \(maxPixels) pixels; read it in pieces"
        case let .noSuchAssociatedImage(path, name, available):
            "\(path): no associated image '\(name)'; the slide has "
                + (available.isEmpty ? "none" : available.joined(separator: ", "))
        case let .unwritable(path, reason):
            "\(path): cannot write slide: \(reason)"
        }
    }
}

extension SlideError {
    init(_ error: ImagingError) {
        switch error {
        case let .unreadable(path, reason): self = .image(path: path, reason: "cannot decode image: \(reason)")
        case let .unsupported(path, reason): self = .image(path: path, reason: "unsupported image: \(reason)")
        case let .unwritable(path, reason): self = .unwritable(path: path, reason: reason)
        }
    }
}

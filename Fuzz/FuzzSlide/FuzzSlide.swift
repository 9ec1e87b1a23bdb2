import Foundation
import Imaging
import Slides

/// libFuzzer target: arbitrary bytes as a slide file (TIFF-based, PNG, or anything OpenSlide
/// sniffs). Opening, and reading a region of at most 256 × 256 pixels, must give pixels or a
/// thrown SlideError, never a trap or a memory error.
let folder: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("histoscreen-fuzz-slide-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSlide(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? Data() : Data(bytes: data!, count: size)
    // The extension follows the magic number, as a user's file would have it.
    let ext = bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "png" : "tif"
    let file = folder.appendingPathComponent("slide.\(ext)")
    guard (try? bytes.write(to: file)) != nil else { return 0 }
    guard let slide = try? openSlide(at: file) else { return 0 }
    let s = slide.metadata.sizeLevel0
    _ = try? slide.readRegion(originLevel0: PixelPoint(x: 0, y: 0), level: 0,
                              sizeAtLevel: PixelSize(width: min(256, s.width), height: min(256, s.height)))
    return 0
}

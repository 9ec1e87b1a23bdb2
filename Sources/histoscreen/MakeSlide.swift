import ArgumentParser
import Foundation
import Imaging
import Slides

/// `histoscreen make-slide`: a large pyramidal test slide built from a real slide's tissue.
struct MakeSlide: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-slide",
        abstract: "Write a large pyramidal TIFF for benchmarks: copies of a real slide's tissue on glass.",
        discussion: """
            Copies of SOURCE's level 0 are laid on a white field every --spacing pixels (in both directions), at \
            SOURCE's µm per pixel, and written as a JPEG-compressed, tiled, pyramidal TIFF that OpenSlide opens as \
            generic-tiff. Lower levels are the source scaled down with an area filter. Memory stays bounded: tiles \
            are generated one at a time. Used by Scripts/bench-streaming.sh.
            """,
        shouldDisplay: false
    )

    @Argument(help: "A real slide whose level 0 is copied.") var source: String
    @Option(help: "The TIFF to write.") var out: String
    @Option(help: "Width and height of level 0 in pixels.") var size = 100_000
    @Option(help: "Distance between copies, in pixels.") var spacing = 8_000
    @Option(help: "JPEG quality.") var quality = 80

    func run() throws {
        let slide = try openSlide(at: URL(fileURLWithPath: source))
        let base = try slide.readRegion(originLevel0: PixelPoint(x: 0, y: 0), level: 0, sizeAtLevel: slide.metadata.sizeLevel0)
        guard let mpp = slide.metadata.resolution.mppX else { throw ValidationError("\(source) has no µm per pixel") }
        var levels = 1
        while (size >> levels) >= 1024 { levels += 1 }
        // The source at each level's scale.
        var copies: [Raster] = [base]
        for level in 1..<levels {
            let f = 1 << level
            copies.append(base.resampledArea(width: max(1, base.width / f), height: max(1, base.height / f)))
        }
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: size, height: size), levelCount: levels, tileSize: 256,
                                         compression: .jpeg(quality: quality), micronsPerPixel: (mpp, mpp),
                                         imageDescription: "HistoScreen benchmark slide: copies of \((source as NSString).lastPathComponent)")
        let start = Date()
        var tiles = 0
        try writer.write(to: URL(fileURLWithPath: out)) { level, origin, tileSize in
            tiles += 1
            if tiles % 20_000 == 0 {
                FileHandle.standardError.write(Data("make-slide: \(tiles) tiles, level \(level), \(Int(Date().timeIntervalSince(start))) s\n".utf8))
            }
            let copy = copies[level]
            let step = spacing >> level
            var tile = Raster(width: tileSize.width, height: tileSize.height, channels: 3, fill: [244, 244, 242])
            for y in 0..<tileSize.height {
                let gy = origin.y + y
                let cy = gy % step
                guard cy < copy.height else { continue }
                for x in 0..<tileSize.width {
                    let cx = (origin.x + x) % step
                    guard cx < copy.width else { continue }
                    let s = (cy * copy.width + cx) * 3, d = (y * tileSize.width + x) * 3
                    tile.pixels[d] = copy.pixels[s]; tile.pixels[d + 1] = copy.pixels[s + 1]; tile.pixels[d + 2] = copy.pixels[s + 2]
                }
            }
            return tile
        }
        print("wrote \(out): \(size) × \(size) px, \(levels) levels, \(tiles) tiles, \(mpp) µm/px, in \(Int(Date().timeIntervalSince(start))) s")
    }
}

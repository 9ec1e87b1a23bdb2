import Foundation

/// Damaged copies of a real slide, for tests: made at test time from the committed samples,
/// by editing a classic little-endian TIFF (as Aperio SVS files are) byte by byte.
public enum CorruptCopies {
    public enum Damage: String, CaseIterable, Sendable {
        /// The first 99 % of the file: the last directories are cut off.
        case truncated99
        /// The first 60 %: tile data and directories are missing.
        case truncated60
        /// Bytes in the middle of a level-0 tile's compressed data XOR-ed with 0x5A.
        case tileDataFlipped
        /// One entry of level 0's TileOffsets array set to 0.
        case tileOffsetZeroed
        /// The TileOffsets entry of the first directory points far beyond the file.
        case directoryFlipped
    }

    /// Writes `source` with `damage` to `destination`.
    public static func write(_ source: URL, _ damage: Damage, to destination: URL) throws {
        var b = [UInt8](try Data(contentsOf: source))
        precondition(b.count > 16 && b[0] == 0x49 && b[1] == 0x49 && b[2] == 42, "CorruptCopies: needs a little-endian classic TIFF")
        func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        func put32(_ i: Int, _ v: Int) { for k in 0..<4 { b[i + k] = UInt8((v >> (8 * k)) & 0xFF) } }
        // The first directory's TileOffsets (324) and TileByteCounts (325) entries.
        let ifd = u32(4)
        var offsetsEntry = 0, offsetsArray = 0, countsArray = 0, tiles = 0
        for e in 0..<u16(ifd) {
            let entry = ifd + 2 + 12 * e
            switch u16(entry) {
            case 324: offsetsEntry = entry; tiles = u32(entry + 4); offsetsArray = u32(entry + 8)
            case 325: countsArray = u32(entry + 8)
            default: break
            }
        }
        precondition(offsetsEntry > 0 && tiles > 2, "CorruptCopies: the first directory is not tiled")
        let middle = tiles / 2
        switch damage {
        case .truncated99: b = Array(b.prefix(b.count * 99 / 100))
        case .truncated60: b = Array(b.prefix(b.count * 60 / 100))
        case .tileDataFlipped:
            let start = u32(offsetsArray + 4 * middle), length = u32(countsArray + 4 * middle)
            for i in stride(from: start + length / 4, to: start + 3 * length / 4, by: 5) { b[i] ^= 0x5A }
        case .tileOffsetZeroed: put32(offsetsArray + 4 * middle, 0)
        case .directoryFlipped: put32(offsetsEntry + 8, offsetsArray | 0x7000_0000)
        }
        try Data(b).write(to: destination)
    }
}

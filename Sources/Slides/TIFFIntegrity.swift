import CShims
import CTIFF
import Foundation
import Imaging

/// A structural check of TIFF-based slides (Aperio SVS, generic tiled TIFF, plain TIFF) before
/// they are opened: every directory must read, and every strip or tile must lie inside the
/// file. A truncated copy, the commonest damage, then fails by name, instead of opening with
/// its last directories (which hold the label and the description with the resolution) missing,
/// or reading its missing tiles as blank.
enum TIFFIntegrity {
    /// Whether the file starts with a classic or BigTIFF header.
    static func isTIFF(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = [UInt8](handle.readData(ofLength: 4))
        return head == [0x49, 0x49, 0x2A, 0x00] || head == [0x4D, 0x4D, 0x00, 0x2A]
            || head == [0x49, 0x49, 0x2B, 0x00] || head == [0x4D, 0x4D, 0x00, 0x2B]
    }

    static func check(_ path: String) throws(SlideError) {
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
        guard let tif = TIFFImage.open(path, mode: "r") else {
            throw .damaged(path: path, reason: TIFFImage.lastError(default: "the TIFF header or first directory cannot be read")
                           + " (the file is \(size) bytes: truncated or damaged)")
        }
        defer { TIFFClose(tif) }
        var directory = 0
        while true {
            let count = TIFFIsTiled(tif) != 0 ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif)
            for i in 0..<count {
                let offset = TIFFGetStrileOffset(tif, i), length = TIFFGetStrileByteCount(tif, i)
                guard length > 0 else { continue }  // a tile the scanner left out (blank); offset unused
                let (end, overflow) = offset.addingReportingOverflow(length)
                guard offset > 0, !overflow, end <= size else {
                    let what = TIFFIsTiled(tif) != 0 ? "tile" : "strip"
                    let reason = offset == 0 ? "\(what) \(i) of directory \(directory) has offset 0"
                        : "\(what) \(i) of directory \(directory) ends at byte \(overflow ? "beyond 2^64" : String(end)), but the file has \(size) bytes"
                    throw .damaged(path: path, reason: reason + (end > size && !overflow ? " (truncated)" : ""))
                }
            }
            hs_tiff_clear_error()
            guard TIFFReadDirectory(tif) != 0 else {
                let message = String(cString: hs_tiff_last_error())
                if message.isEmpty { return }  // no more directories
                throw .damaged(path: path, reason: "directory \(directory + 1) cannot be read (\(message)); the file is \(size) bytes"
                                + ", which suggests it was truncated")
            }
            directory += 1
            guard directory < 10_000 else { throw .damaged(path: path, reason: "more than 10,000 directories (a loop in the directory chain?)") }
        }
    }
}

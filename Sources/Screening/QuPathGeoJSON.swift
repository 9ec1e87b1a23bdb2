import Foundation
import Imaging

/// GeoJSON in the form QuPath itself exports (v0.4 and later), so that *File → Import objects*
/// keeps every value: a FeatureCollection of Features, each with a UUID `id`, a `geometry`
/// in level-0 pixels (y down), and `properties` holding only what QuPath reads back:
/// `objectType`, `name`, `classification` {name, color}, `measurements` (a map of numbers)
/// and `metadata` (a map of strings). QuPath drops any other property on import.
///
/// The files are written directly as bytes: Foundation's JSONSerialization took a tenth of a
/// second for the 552 regions of the benchmark slide, and tile files have a feature per cell.
public enum QuPathGeoJSON {
    /// QuPath's built-in "Tumor" class and its default colour.
    public static let tumourClass = (name: "Tumor", color: [200, 0, 0])

    /// One annotation per region, in rank order.
    public static func regions(_ regions: [Region], slideName: String) -> [UInt8] {
        var w = Writer()
        w.out += "{\"type\":\"FeatureCollection\",\"features\":["
        for (k, r) in regions.enumerated() {
            if k > 0 { w.out += "," }
            w.featureStart(id: uuid(slideName, "region", r.id), rings: r.rings, objectType: "annotation",
                           name: "Lesion \(r.id) (\(r.lesionClass.label))")
            w.out += ",\"classification\":{\"name\":\"\(tumourClass.name)\",\"color\":[200,0,0]},\"measurements\":{"
            w.measurements([("Rank", Double(r.id)), ("Lesion score mm^2", r.score), ("Max probability", r.maxProbability),
                            ("Mean probability", r.meanProbability), ("Area mm^2", r.areaMM2),
                            ("Longest diameter mm", r.diameterMM), ("Cells", Double(r.cells.count))])
            w.out += "},\"metadata\":{\"lesionClass\":" + Writer.string(r.lesionClass.rawValue)
            w.out += ",\"source\":\"histoscreen\"}}}"
        }
        w.out += "]}"
        return Array(w.out.utf8)
    }

    /// One tile object per screened cell, with its probability as a measurement, for QuPath's
    /// *Measure → Show measurement maps*. Cells at or above the threshold are classified Tumor.
    public static func tiles(_ result: ScreenResult, slideName: String) -> [UInt8] {
        var w = Writer()
        w.out.reserveCapacity(64 + result.probabilities.count * 420)
        w.out += "{\"type\":\"FeatureCollection\",\"features\":["
        var first = true
        let g = result.grid
        for (i, p) in result.probabilities.enumerated() {
            guard let p else { continue }
            if !first { w.out += "," }
            first = false
            let c = Regions.clipped(g, i)
            let ring = [[c.x, c.y], [c.x + c.width, c.y], [c.x + c.width, c.y + c.height], [c.x, c.y + c.height], [c.x, c.y]]
            w.featureStart(id: uuid(slideName, "tile", i), rings: [ring], objectType: "tile",
                           name: "Tile r\(i / g.columns) c\(i % g.columns)")
            if Double(p) >= result.threshold {
                w.out += ",\"classification\":{\"name\":\"\(tumourClass.name)\",\"color\":[200,0,0]}"
            }
            w.out += ",\"measurements\":{"
            w.measurements([("Tumour probability", Double(p)), ("Tissue fraction", result.tissueFractions[i])])
            w.out += "}}}"
        }
        w.out += "]}"
        return Array(w.out.utf8)
    }

    /// A UUID (RFC 9562 version 8, name-based on SHA-256) for an object of a slide, so that
    /// the same screen writes the same ids and re-imports replace rather than duplicate.
    public static func uuid(_ slideName: String, _ kind: String, _ number: Int) -> String {
        var h = SHA256()
        h.update(Array("histoscreen/\(slideName)/\(kind)/\(number)".utf8))
        var hex = Array(h.finalize().prefix(32))
        hex[12] = "8"  // version 8
        let variant = "89ab"
        hex[16] = variant[variant.index(variant.startIndex, offsetBy: Int(String(hex[16]), radix: 16)! & 3)]
        let s = String(hex)
        func part(_ a: Int, _ b: Int) -> Substring { s.dropFirst(a).prefix(b - a) }
        return "\(part(0, 8))-\(part(8, 12))-\(part(12, 16))-\(part(16, 20))-\(part(20, 32))"
    }

    struct Writer {
        var out = ""

        static func number(_ v: Double) -> String {
            v.isFinite ? (v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)") : "null"
        }

        static func string(_ text: String) -> String {
            var s = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": s += "\\\""
                case "\\": s += "\\\\"
                case "\n": s += "\\n"
                case "\r": s += "\\r"
                case "\t": s += "\\t"
                default:
                    if scalar.value < 0x20 { s += String(format: "\\u%04x", scalar.value) } else { s.unicodeScalars.append(scalar) }
                }
            }
            return s + "\""
        }

        /// `{"type":"Feature","id":…,"geometry":{…},"properties":{"objectType":…,"name":…` (left open).
        mutating func featureStart(id: String, rings: [[[Double]]], objectType: String, name: String) {
            out += "{\"type\":\"Feature\",\"id\":\"" + id + "\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":["
            for (i, ring) in rings.enumerated() {
                if i > 0 { out += "," }
                out += "["
                for (j, p) in ring.enumerated() {
                    if j > 0 { out += "," }
                    out += "[" + Self.number(p[0]) + "," + Self.number(p[1]) + "]"
                }
                out += "]"
            }
            out += "]},\"properties\":{\"objectType\":\"" + objectType + "\",\"name\":" + Self.string(name)
        }

        mutating func measurements(_ values: [(String, Double)]) {
            for (k, (name, value)) in values.enumerated() {
                if k > 0 { out += "," }
                out += Self.string(name) + ":" + Self.number(value)
            }
        }
    }
}

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Ground-truth tumour annotations of one slide, in level-0 pixels: lesions as polygons
/// (outline first, then holes), and exclusions (areas inside lesions that are not tumour, as
/// Camelyon16's ASAP files mark them).
public struct TruthAnnotations: Sendable {
    public struct Polygon: Sendable, Equatable {
        public var rings: [[[Double]]]
        public init(rings: [[[Double]]]) { self.rings = rings }
    }
    public var lesions: [Polygon]
    public var exclusions: [Polygon]

    public init(lesions: [Polygon], exclusions: [Polygon] = []) {
        self.lesions = lesions
        self.exclusions = exclusions
    }

    public struct ReadError: Error, CustomStringConvertible {
        public var path: String
        public var problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// Reads QuPath or other GeoJSON (a FeatureCollection, a Feature, an array of Features, or
    /// a bare Polygon/MultiPolygon), or ASAP XML. In GeoJSON, every polygon of every
    /// annotation is a lesion (QuPath tiles, detections and cells are skipped); with
    /// `className`, only features of that classification. In ASAP XML, groups `_2` and
    /// `Exclusion` are exclusions and every other group is tumour (Camelyon16's convention).
    public static func read(_ url: URL, className: String? = nil) throws(ReadError) -> TruthAnnotations {
        let path = url.path
        guard let data = FileManager.default.contents(atPath: path) else { throw ReadError(path: path, problem: "cannot be read") }
        let text = String(decoding: data.prefix(512), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("<") { return try asapXML(data, path: path, className: className) }
        return try geoJSON(data, path: path, className: className)
    }

    static func geoJSON(_ data: Data, path: String, className: String?) throws(ReadError) -> TruthAnnotations {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ReadError(path: path, problem: "is neither JSON nor XML: \((error as NSError).localizedDescription)")
        }
        var lesions: [Polygon] = []
        func polygon(_ value: Any?, _ where_: String) throws(ReadError) -> Polygon {
            guard let rings = value as? [[[Double]]], !rings.isEmpty,
                  rings.allSatisfy({ $0.count >= 3 && $0.allSatisfy { $0.count >= 2 && $0[0].isFinite && $0[1].isFinite } }) else {
                throw ReadError(path: path, problem: "\(where_): a polygon's coordinates must be rings of at least 3 [x, y] points")
            }
            return Polygon(rings: rings.map { $0.map { [$0[0], $0[1]] } })
        }
        func geometry(_ g: [String: Any], _ where_: String) throws(ReadError) {
            switch g["type"] as? String {
            case "Polygon": lesions.append(try polygon(g["coordinates"], where_))
            case "MultiPolygon":
                guard let parts = g["coordinates"] as? [Any] else { throw ReadError(path: path, problem: "\(where_): MultiPolygon without coordinates") }
                for part in parts { lesions.append(try polygon(part, where_)) }
            case "GeometryCollection":
                for case let child as [String: Any] in (g["geometries"] as? [Any]) ?? [] { try geometry(child, where_) }
            default: break  // points and lines mark no area
            }
        }
        func feature(_ f: [String: Any], _ where_: String) throws(ReadError) {
            let properties = f["properties"] as? [String: Any] ?? [:]
            if let type = properties["objectType"] as? String, ["tile", "detection", "cell"].contains(type) { return }
            if let className {
                let name = (properties["classification"] as? [String: Any])?["name"] as? String
                guard name?.lowercased() == className.lowercased() else { return }
            }
            guard let g = f["geometry"] as? [String: Any] else { return }
            try geometry(g, where_)
        }
        switch object {
        case let dict as [String: Any] where dict["type"] as? String == "FeatureCollection":
            for (k, item) in ((dict["features"] as? [Any]) ?? []).enumerated() {
                if let f = item as? [String: Any] { try feature(f, "feature \(k)") }
            }
        case let dict as [String: Any] where dict["type"] as? String == "Feature":
            try feature(dict, "the feature")
        case let dict as [String: Any]:
            try geometry(dict, "the geometry")
        case let array as [Any]:
            for (k, item) in array.enumerated() {
                if let f = item as? [String: Any] { try feature(f, "feature \(k)") }
            }
        default:
            throw ReadError(path: path, problem: "is JSON but not GeoJSON")
        }
        return TruthAnnotations(lesions: lesions)
    }

    static func asapXML(_ data: Data, path: String, className: String?) throws(ReadError) -> TruthAnnotations {
        final class Reader: NSObject, XMLParserDelegate {
            var annotations: [(group: String, type: String, points: [(Int, Double, Double)])] = []
            var current: (group: String, type: String, points: [(Int, Double, Double)])?
            var problem: String?
            func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                switch element {
                case "Annotation":
                    current = (attributes["PartOfGroup"] ?? "", attributes["Type"] ?? "Polygon", [])
                case "Coordinate":
                    guard let x = attributes["X"].flatMap({ Double($0.replacingOccurrences(of: ",", with: ".")) }),
                          let y = attributes["Y"].flatMap({ Double($0.replacingOccurrences(of: ",", with: ".")) }), x.isFinite, y.isFinite else {
                        problem = problem ?? "a Coordinate without numeric X and Y (line \(parser.lineNumber))"
                        return
                    }
                    current?.points.append((Int(attributes["Order"] ?? "") ?? (current?.points.count ?? 0), x, y))
                default: break
                }
            }
            func parser(_ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?) {
                if element == "Annotation", let c = current { annotations.append(c); current = nil }
            }
        }
        let reader = Reader()
        let parser = XMLParser(data: data)
        parser.delegate = reader
        guard parser.parse() else {
            throw ReadError(path: path, problem: "is not well-formed XML: \(parser.parserError.map { ($0 as NSError).localizedDescription } ?? "parse error") (line \(parser.lineNumber))")
        }
        if let problem = reader.problem { throw ReadError(path: path, problem: problem) }
        var lesions: [Polygon] = [], exclusions: [Polygon] = []
        for a in reader.annotations where ["polygon", "spline", "rectangle"].contains(a.type.lowercased()) && a.points.count >= 3 {
            var ring = a.points.sorted { $0.0 < $1.0 }.map { [$0.1, $0.2] }
            if ring.first! != ring.last! { ring.append(ring[0]) }
            let group = a.group.lowercased()
            if group == "_2" || group == "exclusion" {
                exclusions.append(Polygon(rings: [ring]))
            } else if className == nil || group == className!.lowercased() {
                lesions.append(Polygon(rings: [ring]))
            }
        }
        return TruthAnnotations(lesions: lesions, exclusions: exclusions)
    }
}

/// Plane geometry on level-0 rings.
enum PlaneGeometry {
    /// Even-odd point in polygon over all its rings (holes included).
    static func contains(_ rings: [[[Double]]], _ x: Double, _ y: Double) -> Bool {
        var inside = false
        for ring in rings {
            var j = ring.count - 1
            for i in 0..<ring.count {
                let (xi, yi, xj, yj) = (ring[i][0], ring[i][1], ring[j][0], ring[j][1])
                if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi { inside.toggle() }
                j = i
            }
        }
        return inside
    }

    /// Distance in µm from (x, y) to the nearest edge of any ring, with anisotropic pixels.
    static func distanceToEdgesMicrons(_ rings: [[[Double]]], _ x: Double, _ y: Double, mppX: Double, mppY: Double) -> Double {
        var best = Double.infinity
        for ring in rings {
            for (a, b) in zip(ring, ring.dropFirst() + [ring[0]]) {
                let ax = (a[0] - x) * mppX, ay = (a[1] - y) * mppY, bx = (b[0] - x) * mppX, by = (b[1] - y) * mppY
                let dx = bx - ax, dy = by - ay, length2 = dx * dx + dy * dy
                let t = length2 > 0 ? max(0, min(1, -(ax * dx + ay * dy) / length2)) : 0
                let px = ax + t * dx, py = ay + t * dy
                best = min(best, (px * px + py * py).squareRoot())
            }
        }
        return best
    }
}

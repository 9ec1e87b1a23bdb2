import Foundation

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
        do { object = try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) } catch {
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
        guard String(data: data, encoding: .utf8) != nil else { throw ReadError(path: path, problem: "is XML but not valid UTF-8 text") }
        var annotations: [(group: String, type: String, points: [(Int, Double, Double)])] = []
        var current: (group: String, type: String, points: [(Int, Double, Double)])?
        var problem: String?
        do {
            try MiniXML.scan(Array(data)) { event in
                switch event {
                case let .start(element, attributes, line):
                    if element == "Annotation" {
                        current = (attributes["PartOfGroup"] ?? "", attributes["Type"] ?? "Polygon", [])
                    } else if element == "Coordinate" {
                        guard let x = attributes["X"].flatMap({ Double($0.replacingOccurrences(of: ",", with: ".")) }),
                              let y = attributes["Y"].flatMap({ Double($0.replacingOccurrences(of: ",", with: ".")) }), x.isFinite, y.isFinite else {
                            problem = problem ?? "a Coordinate without numeric X and Y (line \(line))"
                            return
                        }
                        let order = Int(attributes["Order"] ?? "") ?? (current?.points.count ?? 0)
                        current?.points.append((order, x, y))
                    }
                case let .end(element):
                    if element == "Annotation", let c = current { annotations.append(c); current = nil }
                }
            }
        } catch {
            throw ReadError(path: path, problem: "is not well-formed XML: \(error.problem)")
        }
        if let problem { throw ReadError(path: path, problem: problem) }
        var lesions: [Polygon] = [], exclusions: [Polygon] = []
        for a in annotations where ["polygon", "spline", "rectangle"].contains(a.type.lowercased()) && a.points.count >= 3 {
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

/// A strict scanner for the XML that annotation files use: elements, attributes in single or
/// double quotes with the five predefined entities and character references, comments,
/// processing instructions, CDATA and a DOCTYPE without an internal subset. It checks that
/// elements nest and close. (Foundation's XMLParser on Linux traps on some malformed input,
/// which fuzzing found.)
enum MiniXML {
    enum Event {
        case start(String, [String: String], line: Int)
        case end(String)
    }

    struct Failure: Error { var problem: String }

    static func scan(_ b: [UInt8], _ handle: (Event) -> Void) throws(Failure) {
        var i = 0, line = 1, stack: [String] = [], sawRoot = false
        func fail(_ what: String) -> Failure { Failure(problem: "\(what) (line \(line))") }
        func at(_ text: String) -> Bool {
            let t = Array(text.utf8)
            return i + t.count <= b.count && Array(b[i..<(i + t.count)]) == t
        }
        func skip(to end: String, _ what: String) throws(Failure) {
            let t = Array(end.utf8)
            while i + t.count <= b.count {
                if Array(b[i..<(i + t.count)]) == t { i += t.count; return }
                if b[i] == 10 { line += 1 }
                i += 1
            }
            throw fail("unterminated \(what)")
        }
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }
        func skipSpace() { while i < b.count && isSpace(b[i]) { if b[i] == 10 { line += 1 }; i += 1 } }
        func name() throws(Failure) -> String {
            let start = i
            while i < b.count && !isSpace(b[i]) && ![UInt8(ascii: "/"), UInt8(ascii: ">"), UInt8(ascii: "="), UInt8(ascii: "<")].contains(b[i]) { i += 1 }
            guard i > start else { throw fail("a tag without a name") }
            return String(decoding: b[start..<i], as: UTF8.self)
        }
        func decode(_ raw: ArraySlice<UInt8>) throws(Failure) -> String {
            let text = String(decoding: raw, as: UTF8.self)
            guard text.contains("&") else { return text }
            var out = "", rest = Substring(text)
            while let amp = rest.firstIndex(of: "&") {
                out += rest[..<amp]
                guard let semi = rest[amp...].firstIndex(of: ";") else { throw fail("an unterminated entity in an attribute") }
                let entity = rest[rest.index(after: amp)..<semi]
                switch entity {
                case "amp": out += "&"
                case "lt": out += "<"
                case "gt": out += ">"
                case "quot": out += "\""
                case "apos": out += "'"
                default:
                    let hex = entity.hasPrefix("#x"), number = entity.hasPrefix("#") ? entity.dropFirst(hex ? 2 : 1) : ""
                    guard let code = UInt32(number, radix: hex ? 16 : 10), let scalar = Unicode.Scalar(code) else {
                        throw fail("an unknown entity &\(entity.prefix(20));")
                    }
                    out.unicodeScalars.append(scalar)
                }
                rest = rest[rest.index(after: semi)...]
            }
            return out + rest
        }
        while i < b.count {
            guard b[i] == UInt8(ascii: "<") else {
                if b[i] == 10 { line += 1 }
                if !isSpace(b[i]) && stack.isEmpty { throw fail(sawRoot ? "text after the root element" : "text before the root element") }
                i += 1
                continue
            }
            if at("<?") { try skip(to: "?>", "processing instruction"); continue }
            if at("<!--") { try skip(to: "-->", "comment"); continue }
            if at("<![CDATA[") { try skip(to: "]]>", "CDATA section"); continue }
            if at("<!") { try skip(to: ">", "declaration"); continue }
            if at("</") {
                i += 2
                let element = try name()
                skipSpace()
                guard i < b.count && b[i] == UInt8(ascii: ">") else { throw fail("</\(element.prefix(40)) is not closed with >") }
                i += 1
                guard let open = stack.popLast() else { throw fail("</\(element.prefix(40))> closes nothing") }
                guard open == element else { throw fail("</\(element.prefix(40))> closes <\(open.prefix(40))>") }
                handle(.end(element))
                continue
            }
            i += 1
            if stack.isEmpty && sawRoot { throw fail("a second root element") }
            let element = try name()
            let tagLine = line
            var attributes: [String: String] = [:]
            while true {
                skipSpace()
                guard i < b.count else { throw fail("<\(element.prefix(40)) is not closed") }
                if at("/>") {
                    i += 2
                    sawRoot = true
                    handle(.start(element, attributes, line: tagLine))
                    handle(.end(element))
                    break
                }
                if b[i] == UInt8(ascii: ">") {
                    i += 1
                    sawRoot = true
                    stack.append(element)
                    handle(.start(element, attributes, line: tagLine))
                    break
                }
                let attribute = try name()
                skipSpace()
                guard i < b.count && b[i] == UInt8(ascii: "=") else { throw fail("attribute \(attribute.prefix(40)) has no value") }
                i += 1
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'") else {
                    throw fail("attribute \(attribute.prefix(40)) is not quoted")
                }
                let quote = b[i]
                i += 1
                let start = i
                while i < b.count && b[i] != quote {
                    if b[i] == UInt8(ascii: "<") { throw fail("< inside attribute \(attribute.prefix(40))") }
                    if b[i] == 10 { line += 1 }
                    i += 1
                }
                guard i < b.count else { throw fail("attribute \(attribute.prefix(40)) is not closed") }
                attributes[attribute] = try decode(b[start..<i])
                i += 1
            }
        }
        if let open = stack.last { throw Failure(problem: "it ends inside <\(open.prefix(40))>") }
        guard sawRoot else { throw Failure(problem: "no root element") }
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

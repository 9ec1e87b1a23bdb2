import Foundation
import Imaging
import Neural
import Screening
import Slides
import Testing
import _TestSupport

/// `histoscreen evaluate-slide` on generated slides with known lesions, screened for real
/// with a model that scores the darkness of each window's centre. Slide 1 (0.972 µm/px, so a
/// pixel is about a µm and a 32-px cell is 31 µm) holds:
/// - A, a 384-px square, stained: one region, a true positive (micro-metastasis);
/// - B, a 576 × 96-px lesion stained as three separate squares: three regions, one hit and
///   two duplicates that are not false positives;
/// - a stained square 160 px from A's edge: a false positive next to a lesion;
/// - C, an annotated 288-px square with stain only just outside it (peak cells 16 and 48 px
///   from its edge): hit within 75 µm;
/// - an isolated-tumour-cell lesion (96 px) with stain inside: neither TP nor FP;
/// - D, a 2,240-px (2.2 mm) unstained lesion: a missed macro-metastasis.
/// Slide 2 has no tumour annotation and one lightly stained square (p ≈ 0.89 against ≈ 1
/// for the purple): a false positive.
@Suite struct EvaluateSlideTests {
    let dir = TemporaryDirectory()

    static func box(_ x: Int, _ y: Int, _ w: Int, _ h: Int) -> [[Int]] { [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]] }

    func screenSlides() throws -> URL {
        let model = dir.file("centre.hsmodel")
        try SyntheticModel.centreDarkness().save(to: model)
        let slides = dir.file("slides")
        try FileManager.default.createDirectory(at: slides, withIntermediateDirectories: true)
        let purple: (UInt8, UInt8, UInt8) = (120, 40, 120)
        func square(_ x: Int, _ y: Int, _ w: Int, _ h: Int) -> (PixelPoint, PixelSize) { (PixelPoint(x: x, y: y), PixelSize(width: w, height: h)) }
        let one = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 2560, height: 1600), tileSize: 256, micronsPerPixel: (0.972, 0.972))
        try TestSlides.writeSquares(to: slides.appendingPathComponent("one.tiff"), writer: one, squares: [
            square(128, 128, 384, 384),                                                    // A
            square(704, 192, 128, 96), square(928, 192, 128, 96), square(1152, 192, 128, 96),  // B in three
            square(672, 416, 64, 64),                                                      // 160 px right of A: FP
            square(1792, 544, 64, 64),                                                     // just left of C
            square(2240, 224, 64, 64),                                                     // inside the ITC
        ].map { ($0.0, $0.1) }, color: purple)
        let two = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 1024, height: 768), tileSize: 256, micronsPerPixel: (0.972, 0.972))
        try TestSlides.writeSquares(to: slides.appendingPathComponent("two.tiff"), writer: two, squares: [(square(320, 320, 128, 128).0, square(320, 320, 128, 128).1)],
                                    color: (190, 140, 190))
        let out = dir.file("screens")
        let triage = try CLI.run(["triage", slides.path, "--model", model.path, "--out", out.path, "--quiet", "--stride", "32"])
        #expect(triage.status == 0, "\(triage.stderr)")

        let truth = dir.file("truth")
        try FileManager.default.createDirectory(at: truth, withIntermediateDirectories: true)
        let lesions = [Self.box(128, 128, 384, 384), Self.box(704, 192, 576, 96), Self.box(1856, 448, 288, 288),
                       Self.box(2224, 208, 96, 96), Self.box(160, 1280, 2240, 160)]
        let features: [[String: Any]] = lesions.map {
            ["type": "Feature", "geometry": ["type": "Polygon", "coordinates": [$0]],
             "properties": ["objectType": "annotation", "classification": ["name": "Tumor", "color": [200, 0, 0]]]]
        } + [["type": "Feature", "geometry": ["type": "Polygon", "coordinates": [Self.box(0, 0, 64, 64)]],
              "properties": ["objectType": "tile", "measurements": ["p": 1]]]]
        try JSONSerialization.data(withJSONObject: ["type": "FeatureCollection", "features": features])
            .write(to: truth.appendingPathComponent("one.geojson"))
        return out
    }

    @Test func frocLesionSensitivityAndTileAUC() throws {
        let screens = try screenSlides()
        let result = try CLI.run(["evaluate-slide", screens.path, "--truth", dir.file("truth").path, "--json", "--out", dir.file("eval").path])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let slides = try #require(report["slides"] as? [[String: Any]])
        #expect(slides.map { $0["name"] as? String } == ["one", "two"])
        #expect(slides.map { $0["lesions"] as? Int } == [5, 0])
        #expect(slides.map { $0["falsePositives"] as? Int } == [1, 1])

        let lesions = try #require(report["lesions"] as? [[String: Any]])
        #expect(lesions.map { $0["lesionClass"] as? String } == ["micro", "micro", "micro", "itc", "macro"])
        #expect(lesions.map { $0["detectedBy"] != nil } == [true, true, true, true, false])
        let detections = try #require(report["detections"] as? [[String: Any]]).filter { $0["slide"] as? String == "one" }
        func outcomes(_ lesion: Int) -> [String] { detections.filter { $0["lesion"] as? Int == lesion }.compactMap { $0["outcome"] as? String }.sorted() }
        #expect(outcomes(1) == ["tp"])
        #expect(outcomes(2) == ["duplicate", "duplicate", "tp"])  // one lesion, three regions
        #expect(outcomes(3) == ["tp"])                             // outside, but within 75 µm
        #expect(outcomes(4) == ["itc"])
        #expect(detections.filter { $0["outcome"] as? String == "fp" }.count == 1)
        let fp = try #require(detections.first { $0["outcome"] as? String == "fp" })
        #expect((fp["x"] as? Double ?? 0) > 672 && (fp["x"] as? Double ?? 0) < 736)  // the square beside A

        // Four lesions count (the ITC does not); three are found with 2 FPs over 2 slides.
        let froc = try #require(report["froc"] as? [String: Any])
        #expect(froc["lesions"] as? Int == 4)
        let sensitivities = try #require(froc["sensitivities"] as? [Double])
        #expect(sensitivities.last == 0.75)
        #expect(sensitivities == sensitivities.sorted())
        let score = try #require(froc["score"] as? Double)
        #expect(abs(score - sensitivities.reduce(0, +) / 6) < 1e-12)

        let byClass = try #require(report["lesionSensitivity"] as? [String: [String: Any]])
        #expect(byClass["micro"]?["detected"] as? Int == 3 && byClass["micro"]?["total"] as? Int == 3)
        #expect(byClass["macro"]?["detected"] as? Int == 0 && byClass["macro"]?["total"] as? Int == 1)
        #expect(byClass["itc"]?["detected"] as? Int == 1)
        // Tumour tiles all score the same p (a fully purple centre); of the 24 other tiles, 8
        // purple ones tie with them and 16 light ones score lower: AUC = (16 + 8 / 2) / 24.
        let auc = try #require((report["tileAUC"] as? [String: Any])?["estimate"] as? Double)
        #expect(abs(auc - 20.0 / 24) < 1e-9, "\(auc)")
        #expect(report["tileCounts"] as? [String: Int] == ["tumour": 144 + 36 + 4, "other": 24])
        #expect(FileManager.default.fileExists(atPath: dir.file("eval/froc.png").path))
        #expect(FileManager.default.fileExists(atPath: dir.file("eval/evaluation.json").path))
    }

    /// Truth as ASAP XML (Camelyon16's format), with an exclusion (group _2) that covers lesion A
    /// with a margin: A's stain is then not tumour, so A is missed and its tiles are negative.
    @Test func asapXMLAndExclusions() throws {
        let screens = try screenSlides()
        func ring(_ b: [[Int]]) -> String {
            b.dropLast().enumerated().map { "<Coordinate Order=\"\($0.offset)\" X=\"\($0.element[0])\" Y=\"\($0.element[1])\"/>" }.joined()
        }
        let xml = """
            <?xml version="1.0"?>
            <ASAP_Annotations><Annotations>
            <Annotation Name="A" Type="Polygon" PartOfGroup="Tumor" Color="#F4FA58"><Coordinates>\(ring(Self.box(128, 128, 384, 384)))</Coordinates></Annotation>
            <Annotation Name="B" Type="Polygon" PartOfGroup="_0" Color="#F4FA58"><Coordinates>\(ring(Self.box(704, 192, 576, 96)))</Coordinates></Annotation>
            <Annotation Name="hole" Type="Polygon" PartOfGroup="_2" Color="#64FE2E"><Coordinates>\(ring(Self.box(0, 0, 640, 640)))</Coordinates></Annotation>
            </Annotations><AnnotationGroups/></ASAP_Annotations>
            """
        let file = dir.file("one.xml")
        try xml.write(to: file, atomically: true, encoding: .utf8)
        let read = try TruthAnnotations.read(file)
        #expect(read.lesions.count == 2 && read.exclusions.count == 1)
        let result = try CLI.run(["evaluate-slide", screens.appendingPathComponent("one").path, "--truth", file.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let lesions = try #require(report["lesions"] as? [[String: Any]])
        // A lies wholly inside the exclusion, far (> 75 µm) from its edge at its centre: not hit.
        #expect(lesions.map { $0["detectedBy"] != nil } == [false, true])
        let tiles = try #require(report["tileCounts"] as? [String: Int])
        #expect(tiles["tumour"] == 36)  // B's three stained squares of 4 × 3 cells; A's cells are excluded
    }

    @Test func readsQuPathExportsAndRefusesBadInput() throws {
        let fixture = TestPaths.fixtures.appendingPathComponent("qupath/qupath-export.geojson")
        #expect(try TruthAnnotations.read(fixture).lesions.count == 1)       // the annotation; tile and detection skipped
        #expect(try TruthAnnotations.read(fixture, className: "tumor").lesions.count == 1)
        #expect(try TruthAnnotations.read(fixture, className: "Stroma").lesions.isEmpty)
        let screens = try screenSlides()
        let garbage = dir.file("bad.geojson")
        try Data("{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[0, 0], [1]]]}}]}".utf8).write(to: garbage)
        let bad = try CLI.run(["evaluate-slide", screens.appendingPathComponent("one").path, "--truth", garbage.path])
        #expect(bad.status == 1 && bad.stderr.contains(garbage.path) && bad.stderr.contains("rings of at least 3"), "\(bad.stderr)")
        let notJSON = dir.file("notes.txt")
        try Data("tumour at the top left".utf8).write(to: notJSON)
        let text = try CLI.run(["evaluate-slide", screens.appendingPathComponent("one").path, "--truth", notJSON.path])
        #expect(text.status == 1 && text.stderr.contains("neither JSON nor XML"))
        let empty = try CLI.run(["evaluate-slide", dir.file("truth").path, "--truth", notJSON.path])
        #expect(empty.status == 1 && empty.stderr.contains("holds no screen results"))
        let many = try CLI.run(["evaluate-slide", screens.path, "--truth", garbage.path])
        #expect(many.status == 1 && many.stderr.contains("one annotation file for 2 slides"))
    }
}

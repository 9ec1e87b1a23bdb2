import Foundation
import Imaging

/// report.html: one self-contained page (images inlined as data URIs) for the pathologist.
public enum Report {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func dataURI(_ png: [UInt8]) -> String { "data:image/png;base64," + Data(png).base64EncodedString() }

    public static func html(summary s: ScreenSummary, regions: [Region], overlayPNG: [UInt8], tissuePNG: [UInt8]) -> String {
        func f(_ v: Double, _ d: Int = 3) -> String { String(format: "%.\(d)f", v) }
        let rows = regions.prefix(200).map { r in
            "<tr><td>\(r.id)</td><td>\(f(r.score, 4))</td><td>\(escape(r.lesionClass.label))</td><td>\(f(r.diameterMM, 3))</td>"
                + "<td>\(f(r.areaMM2, 4))</td><td>\(f(r.maxProbability))</td><td>\(f(r.meanProbability))</td>"
                + "<td>\(r.cells.count)</td><td>\(Int(r.centroid[0])), \(Int(r.centroid[1]))</td>"
                + "<td>\(Int(r.boundingBox[0])), \(Int(r.boundingBox[1])), \(Int(r.boundingBox[2])) × \(Int(r.boundingBox[3]))</td></tr>"
        }.joined(separator: "\n")
        let more = regions.count > 200 ? "<p>\(regions.count - 200) smaller regions are listed in regions.geojson.</p>" : ""
        let facts: [(String, String)] = [
            ("Tumour fraction", f(100 * s.tumourFraction, 1) + " % of screened tissue area (" + f(s.positiveAreaMM2, 3) + " of " + f(s.tissueAreaMM2, 3) + " mm²)"),
            ("Maximum probability", s.maxProbability.map { f($0) } ?? "—"),
            ("Regions", "\(s.regionCount); largest " + f(s.largestRegionMM2, 4) + " mm²; largest class: "
                + (regions.map(\.lesionClass).max()?.label ?? "none")
                + ((s.output?.minimumRegionCells ?? 1) > 1 ? " (regions of fewer than \(s.output!.minimumRegionCells) cells not listed)" : "")),
            ("Tiles", "\(s.tiles.withTissue) with tissue of \(s.tiles.total); \(s.tiles.positive) positive"),
            ("Threshold", f(s.threshold)),
            ("Resolution", f(s.slide.mppX, 4) + " × " + f(s.slide.mppY, 4) + " µm/px (from \(s.slide.mppSource)); level \(s.slide.levelUsed) read"),
            ("Slide", "\(s.slide.widthLevel0) × \(s.slide.heightLevel0) px, \(s.slide.format), \(s.slide.hashAlgorithm) \(s.slide.hash.prefix(16))…"),
            ("Model", "\(s.model.name) (\(s.model.architecture), \(f(s.model.micronsPerPixel)) µm/px), sha256 \(s.model.sha256.prefix(16))…"),
            ("Stride", "\(s.parameters.stride) px\(s.parameters.testTimeAugmentation ? ", 8-view test-time augmentation" : "")"),
            ("Time", f(s.timings.totalSeconds, 1) + " s, " + f(s.timings.tilesPerSecond, 0) + " tiles/s"),
            ("Tool", "histoscreen \(s.tool["version"] ?? "")"),
        ]
        let factRows = facts.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>HistoScreen: \(escape(s.slide.name))</title>
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1400px; }
        h1 { font-size: 22px; margin-bottom: 4px; }
        .note { color: #666; font-size: 13px; }
        table { border-collapse: collapse; margin: 12px 0; font-size: 14px; }
        th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
        th { background: #f2f2f2; }
        img { max-width: 100%; border: 1px solid #ccc; }
        .figures { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
        .figures figure { margin: 0; }
        figcaption { font-size: 13px; color: #555; }
        </style>
        </head>
        <body>
        <h1>\(escape(s.slide.name))</h1>
        <p class="note">\(escape(s.slide.path)) — screened for metastatic tumour in 96 × 96-pixel windows at \(f(s.model.micronsPerPixel)) µm/px. \
        A screening aid for research use: every finding needs a pathologist's review.</p>
        <table>
        \(factRows)
        </table>
        <div class="figures">
        <figure><img id="overlay" src="\(dataURI(overlayPNG))" alt="Tumour probability over the slide"><figcaption>Tumour probability (viridis, 0–1) over the slide thumbnail; probabilities below \(f(s.output?.heatmapFloor ?? 0.1, 2)) and tissue-free areas are not shaded. Regions are outlined; the top \(Renderings.numberedRegions) carry their rank.</figcaption></figure>
        <figure><img id="tissue" src="\(dataURI(tissuePNG))" alt="Tissue mask" style="max-width: 420px"><figcaption>Tissue detection (green) for quality control.</figcaption></figure>
        </div>
        <h2>Regions at or above the threshold, by lesion score</h2>
        <p class="note">Lesion score = Σ p × cell area over the region's cells (mm²): the expected tumour area, so large confident regions rank first. \
        Class by longest diameter (Camelyon): isolated tumour cells &lt; 0.2 mm, micro-metastasis 0.2–2 mm, macro-metastasis &gt; 2 mm; \
        with cells of \(f(s.tiles.cellWidthLevel0 * s.slide.mppX, 0)) µm, diameters are measured on the cell grid.</p>
        \(regions.isEmpty ? "<p>None.</p>" : """
        <table>
        <tr><th>#</th><th>Score (mm²)</th><th>Class</th><th>Diameter (mm)</th><th>Area (mm²)</th><th>Max p</th><th>Mean p</th><th>Cells</th><th>Centroid x, y (level-0 px)</th><th>Box x, y, w × h (level-0 px)</th></tr>
        \(rows)
        </table>
        """)
        \(more)
        \((s.output?.viewer ?? false) ? "<p><a href=\"viewer.html\">Open the zoomable viewer</a> (pan, zoom, region measurements on hover).</p>" : "")
        <p class="note">Files beside this report: overlay.png, heatmap.png (one pixel per cell), tissue.png, tiles.csv, \
        regions.geojson (QuPath: File → Import objects), probability.tif (open over the slide in QuPath or ASAP), summary.json.</p>
        </body>
        </html>

        """
    }
}

import Foundation

extension DeepZoomViewer {
    /// viewer.html: the page, with the pyramid's geometry and the regions inlined as JSON (a
    /// page opened from the file system may load images but not fetch files).
    ///
    /// Controls: drag to pan, wheel or +/− to zoom about the cursor, 0 or "Fit" to see the whole
    /// slide, R to show or hide the outlines. Hovering a region shows its measurements.
    ///
    /// For tests, `viewer.html?actions=…` replays input as real DOM events after the first
    /// draw (`wheel:X,Y,DELTA`, `drag:X0,Y0,X1,Y1`, `hover:RANK`, `key:K`, separated by `;`)
    /// and, once every visible tile has loaded or failed, writes the view's state as JSON
    /// into `<pre id="state">`.
    static func html(_ config: ViewerConfig) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // "</" cannot end the script element early once escaped.
        let json = String(decoding: try encoder.encode(config), as: UTF8.self).replacingOccurrences(of: "</", with: "<\\/")
        return #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>HistoScreen viewer</title>
        <style>
        html, body { margin: 0; height: 100%; font: 13px sans-serif; color: #222; }
        body { display: flex; flex-direction: column; }
        #bar { display: flex; gap: 8px; align-items: center; padding: 6px 10px; border-bottom: 1px solid #ccc; background: #f6f6f6; }
        #bar h1 { font-size: 15px; margin: 0 12px 0 0; }
        #bar button { font: inherit; padding: 2px 10px; }
        #legend { display: flex; align-items: center; gap: 4px; margin-left: auto; }
        #ramp { width: 160px; height: 12px; border: 1px solid #999; }
        #view { position: relative; flex: 1; overflow: hidden; background: #fff; cursor: grab; touch-action: none; }
        #view.dragging { cursor: grabbing; }
        #view img { position: absolute; user-select: none; -webkit-user-drag: none; pointer-events: none; }
        #shapes { position: absolute; left: 0; top: 0; width: 100%; height: 100%; overflow: visible; }
        #shapes polygon, #shapes path { fill: rgba(0, 0, 0, 0); stroke: #000; stroke-width: 1.5px; vector-effect: non-scaling-stroke; }
        #shapes .halo { stroke: #fff; stroke-width: 4px; fill: none; pointer-events: none; }
        #shapes path.region:hover, #shapes path.region.active { stroke: #d55e00; stroke-width: 2.5px; }
        #shapes text { font: bold 13px sans-serif; fill: #000; stroke: #fff; stroke-width: 3px; paint-order: stroke; pointer-events: none; }
        #tip { position: absolute; display: none; background: rgba(255, 255, 255, 0.95); border: 1px solid #888; padding: 6px 8px;
               pointer-events: none; white-space: pre; font: 12px/1.4 monospace; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3); }
        #scale { position: absolute; left: 10px; bottom: 10px; background: rgba(255, 255, 255, 0.85); padding: 3px 6px; }
        #scale div { height: 4px; background: #000; margin-top: 2px; }
        </style>
        </head>
        <body>
        <div id="bar">
          <h1 id="title"></h1>
          <button id="zoomIn" title="Zoom in (+)">+</button>
          <button id="zoomOut" title="Zoom out (−)">−</button>
          <button id="fit" title="Whole slide (0)">Fit</button>
          <label><input type="checkbox" id="outlines" checked> Regions (R)</label>
          <span id="legend">P(tumour): not shaded below <span id="floor"></span> <canvas id="ramp" width="160" height="12"></canvas> 1</span>
        </div>
        <div id="view">
          <div id="tiles"></div>
          <svg id="shapes" xmlns="http://www.w3.org/2000/svg"><g id="outlineLayer"></g><g id="labelLayer"></g></svg>
          <div id="scale"><span></span><div></div></div>
          <div id="tip"></div>
        </div>
        <pre id="state" hidden></pre>
        <script>
        "use strict";
        const C = \#(json);
        const view = document.getElementById("view"), tiles = document.getElementById("tiles");
        const outlineLayer = document.getElementById("outlineLayer"), labelLayer = document.getElementById("labelLayer");
        const tip = document.getElementById("tip"), SVG = "http://www.w3.org/2000/svg";
        document.getElementById("title").textContent = C.title;
        document.title = "HistoScreen: " + C.title;
        document.getElementById("floor").textContent = C.floor.toFixed(2);
        (function ramp() {
          const g = document.getElementById("ramp").getContext("2d");
          for (let x = 0; x < 160; x++) {
            const v = x / 159;
            if (v < C.floor) { g.fillStyle = ((x >> 2) & 1) ? "#fff" : "#e1e1e1"; }
            else { g.fillStyle = C.colormap[Math.min(10, Math.round(v * 10))]; }
            g.fillRect(x, 0, 1, 12);
          }
        })();

        // The view: screen = offset + scale × (top-level pixel).
        const S = { scale: 1, x: 0, y: 0, outlines: true };
        let minScale = 1, shown = new Map(), loaded = 0, failed = 0;
        const background = backgroundLevel();

        function levelSize(l) {
          const f = Math.pow(2, C.maxLevel - l);
          return [Math.ceil(C.width / f), Math.ceil(C.height / f)];
        }
        function backgroundLevel() {  // the largest level of at most 1024 px, always drawn underneath
          let l = C.maxLevel;
          while (l > 0 && Math.max(...levelSize(l)) > 1024) l--;
          return l;
        }
        function fit() {
          const w = view.clientWidth, h = view.clientHeight;
          S.scale = minScale = Math.min(w / C.width, h / C.height) * 0.95;
          S.x = (w - C.width * S.scale) / 2;
          S.y = (h - C.height * S.scale) / 2;
        }
        function zoomAt(px, py, factor) {
          const s = Math.max(minScale / 2, Math.min(8, S.scale * factor));
          S.x = px - (px - S.x) * (s / S.scale);
          S.y = py - (py - S.y) * (s / S.scale);
          S.scale = s;
          draw();
        }
        function panBy(dx, dy) { S.x += dx; S.y += dy; draw(); }

        // The level whose pixels are closest to screen pixels without being coarser.
        function currentLevel() {
          const l = C.maxLevel - Math.floor(Math.log2(1 / S.scale) + 1e-9);
          return Math.max(0, Math.min(C.maxLevel, l));
        }
        function place(img, l, c, r) {
          const f = Math.pow(2, C.maxLevel - l), [lw, lh] = levelSize(l);
          const x0 = c * C.tileSize, y0 = r * C.tileSize;
          const w = Math.min(C.tileSize, lw - x0), h = Math.min(C.tileSize, lh - y0);
          img.style.left = (S.x + x0 * f * S.scale) + "px";
          img.style.top = (S.y + y0 * f * S.scale) + "px";
          img.style.width = (w * f * S.scale) + "px";
          img.style.height = (h * f * S.scale) + "px";
        }
        function wanted() {
          const keys = [];
          const add = (l, all) => {
            const f = Math.pow(2, C.maxLevel - l), [lw, lh] = levelSize(l), t = C.tileSize * f * S.scale;
            const cols = Math.ceil(lw / C.tileSize), rows = Math.ceil(lh / C.tileSize);
            const c0 = all ? 0 : Math.max(0, Math.floor(-S.x / t)), c1 = all ? cols - 1 : Math.min(cols - 1, Math.floor((view.clientWidth - S.x) / t));
            const r0 = all ? 0 : Math.max(0, Math.floor(-S.y / t)), r1 = all ? rows - 1 : Math.min(rows - 1, Math.floor((view.clientHeight - S.y) / t));
            for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) keys.push([l, c, r]);
          };
          add(background, true);
          const l = currentLevel();
          if (l !== background) add(l, false);
          return keys;
        }
        function draw() {
          const keep = new Set();
          for (const [l, c, r] of wanted()) {
            const key = l + "/" + c + "_" + r;
            keep.add(key);
            let img = shown.get(key);
            if (!img) {
              img = new Image();
              img.alt = "";
              img.dataset.level = l;
              img.onload = () => { loaded++; img.dataset.state = "loaded"; settle(); };
              img.onerror = () => { failed++; img.dataset.state = "failed"; settle(); };
              img.style.zIndex = l === background ? 0 : 1;
              img.src = "viewer_files/" + key + ".jpg";
              shown.set(key, img);
              tiles.appendChild(img);
            }
            place(img, l, c, r);
          }
          for (const [key, img] of shown) if (!keep.has(key)) { img.remove(); shown.delete(key); }
          drawShapes();
          drawScale();
        }

        // Outlines: one path per region (outline and holes, even-odd), drawn in screen units.
        const paths = C.regions.map(region => {
          const halo = document.createElementNS(SVG, "path"), path = document.createElementNS(SVG, "path");
          halo.setAttribute("class", "halo");
          path.setAttribute("class", "region");
          path.setAttribute("fill-rule", "evenodd");
          path.dataset.rank = region.rank;
          path.addEventListener("pointerenter", e => showTip(region, path, e));
          path.addEventListener("pointermove", e => showTip(region, path, e));
          path.addEventListener("pointerleave", () => hideTip(path));
          outlineLayer.append(halo, path);
          const label = document.createElementNS(SVG, "text");
          label.textContent = region.rank;
          labelLayer.appendChild(label);
          return { region, halo, path, label };
        });
        function drawShapes() {
          outlineLayer.style.display = labelLayer.style.display = S.outlines ? "" : "none";
          if (!S.outlines) return;
          for (const { region, halo, path, label } of paths) {
            const d = region.rings.map(ring => "M" + ring.map(p => (S.x + p[0] * S.scale).toFixed(1) + "," + (S.y + p[1] * S.scale).toFixed(1)).join("L") + "Z").join("");
            halo.setAttribute("d", d);
            path.setAttribute("d", d);
            const corner = region.rings[0][0];  // the outline's top-left vertex
            label.setAttribute("x", S.x + corner[0] * S.scale - 3);
            label.setAttribute("y", S.y + corner[1] * S.scale - 3);
            label.setAttribute("text-anchor", "end");
          }
        }
        function showTip(r, path, e) {
          path.classList.add("active");
          tip.textContent = "Lesion " + r.rank + " (" + r.lesionClass + ")\n" +
            "score        " + r.score.toFixed(4) + " mm²\n" +
            "area         " + r.areaMM2.toFixed(4) + " mm²\n" +
            "diameter     " + r.diameterMM.toFixed(3) + " mm\n" +
            "max p        " + r.maxProbability.toFixed(3) + "\n" +
            "mean p       " + r.meanProbability.toFixed(3) + "\n" +
            "cells        " + r.cells;
          const box = view.getBoundingClientRect();
          tip.style.left = (e.clientX - box.left + 14) + "px";
          tip.style.top = (e.clientY - box.top + 14) + "px";
          tip.style.display = "block";
        }
        function hideTip(path) { path.classList.remove("active"); tip.style.display = "none"; }
        function drawScale() {
          const umPerScreenPx = C.micronsPerPixel / S.scale, target = 120 * umPerScreenPx;
          const steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];
          const um = steps.filter(s => s <= target).pop() || steps[0];
          const box = document.getElementById("scale");
          box.querySelector("span").textContent = um >= 1000 ? (um / 1000) + " mm" : um + " µm";
          box.querySelector("div").style.width = (um / umPerScreenPx) + "px";
        }

        // Input.
        let drag = null;
        view.addEventListener("wheel", e => {
          e.preventDefault();
          const box = view.getBoundingClientRect();
          zoomAt(e.clientX - box.left, e.clientY - box.top, Math.pow(2, -e.deltaY / 300));
        }, { passive: false });
        view.addEventListener("pointerdown", e => {
          drag = { x: e.clientX, y: e.clientY };
          view.classList.add("dragging");
        });
        window.addEventListener("pointermove", e => {
          if (!drag) return;
          panBy(e.clientX - drag.x, e.clientY - drag.y);
          drag = { x: e.clientX, y: e.clientY };
        });
        window.addEventListener("pointerup", () => { drag = null; view.classList.remove("dragging"); });
        view.addEventListener("dblclick", e => {
          const box = view.getBoundingClientRect();
          zoomAt(e.clientX - box.left, e.clientY - box.top, 2);
        });
        function key(k) {
          const cx = view.clientWidth / 2, cy = view.clientHeight / 2;
          if (k === "+" || k === "=") zoomAt(cx, cy, 2);
          else if (k === "-") zoomAt(cx, cy, 0.5);
          else if (k === "0") { fit(); draw(); }
          else if (k === "r" || k === "R") { S.outlines = !S.outlines; document.getElementById("outlines").checked = S.outlines; draw(); }
          else if (k === "ArrowLeft") panBy(100, 0);
          else if (k === "ArrowRight") panBy(-100, 0);
          else if (k === "ArrowUp") panBy(0, 100);
          else if (k === "ArrowDown") panBy(0, -100);
        }
        window.addEventListener("keydown", e => key(e.key));
        document.getElementById("zoomIn").onclick = () => key("+");
        document.getElementById("zoomOut").onclick = () => key("-");
        document.getElementById("fit").onclick = () => key("0");
        document.getElementById("outlines").onchange = e => { S.outlines = e.target.checked; draw(); };
        window.addEventListener("resize", draw);

        // Test replay: real events at screen points, then the state once tiles settle.
        function settle() {
          if (!replayed) return;
          const imgs = [...tiles.querySelectorAll("img")];
          if (imgs.some(i => !i.dataset.state)) return;
          const state = document.getElementById("state");
          state.textContent = JSON.stringify({
            scale: S.scale, x: S.x, y: S.y, minScale, level: currentLevel(), background,
            tiles: imgs.length, tilesAtLevel: imgs.filter(i => +i.dataset.level === currentLevel()).length,
            loaded: imgs.filter(i => i.dataset.state === "loaded").length, failed: imgs.filter(i => i.dataset.state === "failed").length,
            tip: tip.style.display === "block" ? tip.textContent : null, outlines: S.outlines,
            viewLeft: view.getBoundingClientRect().left, viewTop: view.getBoundingClientRect().top,
            viewWidth: view.clientWidth, viewHeight: view.clientHeight
          });
          document.body.dataset.settled = "true";
        }
        let replayed = false;
        function replay(actions) {
          const box = view.getBoundingClientRect();
          for (const action of actions) {
            const [name, arg] = action.split(":");
            const n = (arg || "").split(",").map(Number);
            const at = (x, y) => ({ clientX: box.left + x, clientY: box.top + y, bubbles: true, cancelable: true, pointerId: 1, isPrimary: true });
            if (name === "wheel") view.dispatchEvent(new WheelEvent("wheel", { ...at(n[0], n[1]), deltaY: n[2] }));
            else if (name === "drag") {
              view.dispatchEvent(new PointerEvent("pointerdown", at(n[0], n[1])));
              for (let i = 1; i <= 4; i++) window.dispatchEvent(new PointerEvent("pointermove", at(n[0] + (n[2] - n[0]) * i / 4, n[1] + (n[3] - n[1]) * i / 4)));
              window.dispatchEvent(new PointerEvent("pointerup", at(n[2], n[3])));
            } else if (name === "hover") {
              const r = C.regions.find(r => r.rank === n[0]);
              const x = S.x + r.peak[0] * S.scale, y = S.y + r.peak[1] * S.scale;
              const target = document.elementFromPoint(box.left + x, box.top + y);
              if (target) {
                target.dispatchEvent(new PointerEvent("pointerenter", { ...at(x, y), bubbles: false }));
                target.dispatchEvent(new PointerEvent("pointermove", at(x, y)));
              }
            } else if (name === "key") window.dispatchEvent(new KeyboardEvent("keydown", { key: arg, bubbles: true }));
          }
        }
        fit();
        draw();
        const params = new URLSearchParams(location.search);
        if (params.has("actions")) replay(params.get("actions").split(";").filter(a => a));
        replayed = true;
        settle();
        </script>
        </body>
        </html>

        """#
    }
}

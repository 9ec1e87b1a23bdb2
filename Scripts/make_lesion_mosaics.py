#!/usr/bin/env python3
"""Mosaic slides of held-out PatchCamelyon patches with known "lesions", for evaluate-slide.

Each slide is a grid of real 96 x 96 patches at 0.972 um/px (the PCam resolution), written as a
plain RGB TIFF with resolution tags. Lesions are rectangular blocks of tumour patches (label 1)
in a field of normal patches (label 0); the truth is one GeoJSON polygon per block, in level-0
pixels, in the form QuPath exports. Patches come only from the test half (subset "test") of
Samples/datasets/ai4all-pcam-valid-split.csv: PCam valid-split slides, disjoint from every
training slide, and not used for model choice or calibration. Each patch is used once.

A mosaic is not a slide: neighbouring patches come from different slides, and a PCam label
describes only a patch's centre 32 x 32 pixels, so a lesion's true edge is known only to a patch.
Screen at --stride 96 so each cell is exactly one patch.

    python3 Scripts/make_lesion_mosaics.py .data/pcam-more/ai4all-pcam-valid --out .data/mosaics
"""
import argparse
import csv
import json
import os
import random

from PIL import Image

PATCH = 96
MPP = 0.972
COLUMNS, ROWS = 24, 8
# Per slide: lesions as (column, row, width, height) in patches; the last slide has none.
LAYOUTS = [
    [(0, 1, 23, 2), (5, 5, 2, 2), (15, 6, 1, 1)],
    [(1, 1, 6, 4), (10, 2, 3, 3), (16, 5, 2, 1), (21, 1, 1, 1)],
    [(2, 2, 4, 4), (9, 1, 3, 2), (14, 5, 1, 2), (19, 3, 1, 1), (22, 6, 1, 1)],
    [],
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", help="the extracted ai4all-pcam-valid folder (train/*.jpg)")
    parser.add_argument("--split", default="Samples/datasets/ai4all-pcam-valid-split.csv")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rows = [r for r in csv.DictReader(open(args.split)) if r["subset"] == "test"]
    rng = random.Random(args.seed)
    pools = {label: sorted(r["id"] for r in rows if r["label"] == label) for label in ("0", "1")}
    for pool in pools.values():
        rng.shuffle(pool)
    os.makedirs(os.path.join(args.out, "slides"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "truth"), exist_ok=True)
    listing = []
    for k, layout in enumerate(LAYOUTS):
        name = f"mosaic-{k + 1}"
        tumour = set()
        for (c, r, w, h) in layout:
            tumour |= {(c + i, r + j) for i in range(w) for j in range(h)}
        image = Image.new("RGB", (COLUMNS * PATCH, ROWS * PATCH))
        for r in range(ROWS):
            for c in range(COLUMNS):
                label = "1" if (c, r) in tumour else "0"
                if not pools[label]:
                    raise SystemExit(f"{args.split}: not enough test patches with label {label}")
                pid = pools[label].pop()
                patch = Image.open(os.path.join(args.dataset, "train", pid + ".jpg")).convert("RGB")
                if patch.size != (PATCH, PATCH):
                    raise SystemExit(f"{pid}: {patch.size}, expected {PATCH} x {PATCH}")
                image.paste(patch, (c * PATCH, r * PATCH))
                listing.append({"slide": name, "column": c, "row": r, "id": pid, "label": label})
        # 10,000 / 0.972 pixels per centimetre.
        image.save(os.path.join(args.out, "slides", name + ".tif"), compression="tiff_deflate",
                   resolution_unit=3, resolution=10000 / MPP)
        features = []
        for n, (c, r, w, h) in enumerate(layout, 1):
            x0, y0, x1, y1 = c * PATCH, r * PATCH, (c + w) * PATCH, (r + h) * PATCH
            features.append({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]},
                "properties": {"objectType": "annotation", "name": f"Lesion {n}",
                               "classification": {"name": "Tumor", "color": [200, 0, 0]}},
            })
        if layout:
            with open(os.path.join(args.out, "truth", name + ".geojson"), "w") as f:
                json.dump({"type": "FeatureCollection", "features": features}, f, indent=1)
    with open(os.path.join(args.out, "patches.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["slide", "column", "row", "id", "label"])
        writer.writeheader()
        writer.writerows(listing)
    print(f"wrote {len(LAYOUTS)} slides of {COLUMNS} x {ROWS} patches to {args.out}")


if __name__ == "__main__":
    main()

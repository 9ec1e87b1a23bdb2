#!/usr/bin/env python3
"""Writes the small image fixtures in Tests/Fixtures/ with Pillow, an encoder independent
of HistoScreen's own libpng/libtiff code, so the tests check our decoders against it.

    pip install pillow && python3 Scripts/make_test_fixtures.py
"""
from pathlib import Path

from PIL import Image

root = Path(__file__).resolve().parent.parent
patch = root / "Samples/patches/0043c12289c78106346614caf7bd1a525f40b1d7.tif"
out = root / "Tests/Fixtures"
out.mkdir(parents=True, exist_ok=True)

image = Image.open(patch).convert("RGB")
# The same pixels as PNG: our PNG decoder must match our TIFF decoder exactly.
image.save(out / "pcam-patch.png")
# An RGBA PNG with a known alpha ramp, for compositing over white.
rgba = image.copy()
rgba.putalpha(Image.linear_gradient("L").resize(image.size))
rgba.save(out / "pcam-patch-rgba.png")
# A JPEG with a slide's extension: not a slide, and must be rejected by name.
image.save(out / "jpeg-renamed.svs", format="JPEG", quality=90)
# The same patch as TIFF with resolution tags (0.972 µm/px as pixels per centimetre).
image.save(out / "pcam-patch-with-resolution.tif", x_resolution=10000 / 0.972, y_resolution=10000 / 0.972,
           resolution_unit=3)
print("wrote", sorted(p.name for p in out.iterdir()))

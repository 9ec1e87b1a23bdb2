#!/usr/bin/env python3
"""Writes the bad-input corpus: Tests/Fixtures/bad-inputs/cases.json and the small files it uses.

Each case is a histoscreen command with placeholders, the exit code it must give, and a fragment
its stderr must contain (usually the file or option named, and the problem). The test
`BadInputCorpusTests` resolves the placeholders and runs every case through the built tool:
    {cmu}            Samples/slides/CMU-1-Small-Region.svs
    {mini}           Tests/Fixtures/pcam-mini/labels.csv (200 real PCam patches)
    {model}          a small valid conv model bundle, written by the test
    {bundle:EDITS}   a copy of {model} with model.json or weights edited (see BadInputCorpusTests)
    {damaged:KIND}   a damaged copy of {cmu} (CorruptCopies)
    {file:NAME}      a copy of Tests/Fixtures/bad-inputs/files/NAME (in CSV files, {fixtures} and {mini} are
                     replaced by their paths)
    {tmp}            a fresh temporary folder
Exit codes: 0 a result, 1 an error about an input, 2 a triage that screened nothing, 64 a bad option value.

    python3 Scripts/make_bad_inputs.py
"""
import json, pathlib, shutil, struct, zlib

root = pathlib.Path(__file__).resolve().parent.parent
out = root / "Tests/Fixtures/bad-inputs"
files = out / "files"
files.mkdir(parents=True, exist_ok=True)
for old in files.iterdir():
    shutil.rmtree(old) if old.is_dir() else old.unlink()


def write(name, data):
    (files / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    return "{file:%s}" % name


def write_folder(name, contents):
    """A folder of files (a screen's result folder); {file:NAME} is its path."""
    (files / name).mkdir()
    for file, data in contents.items():
        (files / name / file).write_bytes(data if isinstance(data, bytes) else data.encode())
    return "{file:%s}" % name


def png(width, height, rows=None, bit_depth=8, colour=2, crc_ok=True):
    """A PNG written by hand (zlib + CRC), so malformed variants are easy to make."""
    def chunk(kind, body):
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc if crc_ok else crc ^ 1)
    channels = {0: 1, 2: 3, 6: 4}[colour]
    raw = rows if rows is not None else b"".join(b"\0" + bytes([150, 60, 150, 255][:channels]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


cases = []


def case(name, command, exit, message):
    cases.append({"name": name, "command": command, "exit": exit, "message": message})


screen = ["screen", "{cmu}", "--model", "{model}", "--out", "{tmp}/o", "--quiet"]

# Options of screen: each refused before any slide is read (exit 64, the option named).
for option, value, message in [
    ("--stride", "0", "--stride must be an even number"), ("--stride", "33", "--stride must be an even number"),
    ("--stride", "-5", "--stride"), ("--stride", "abc", "--stride"), ("--stride", "1e9", "--stride"),
    ("--mpp", "0", "--mpp 0.0 is outside"), ("--mpp", "-1", "--mpp -1.0 is outside"), ("--mpp", "nan", "--mpp nan is outside"),
    ("--mpp", "inf", "--mpp inf is outside"), ("--mpp", "1e9", "is outside 0.05"), ("--mpp", "1e-6", "is outside 0.05"),
    ("--mpp", "abc", "--mpp"), ("--threshold", "0", "--threshold must be between 0 and 1"),
    ("--threshold", "1", "--threshold must be between 0 and 1"), ("--threshold", "-0.5", "--threshold"),
    ("--threshold", "2", "--threshold must be between 0 and 1"), ("--threshold", "nan", "--threshold must be between 0 and 1"),
    ("--min-tissue", "-0.1", "--min-tissue must be between 0 and 1"), ("--min-tissue", "1.5", "--min-tissue must be between 0 and 1"),
    ("--min-tissue", "nan", "--min-tissue must be between 0 and 1"), ("--batch", "0", "--batch must be between 1 and 4096"),
    ("--batch", "-1", "--batch"), ("--batch", "5000", "--batch must be between 1 and 4096"),
    ("--batch", "1000000000", "--batch must be between 1 and 4096"), ("--operating-point", "best", "--operating-point must be"),
]:
    case(f"screen {option} {value}", screen + [option, value], 64, message)
case("screen --threshold with --operating-point", screen + ["--threshold", "0.5", "--operating-point", "balanced"], 64, "not both")
case("screen without --out", ["screen", "{cmu}", "--model", "{model}"], 64, "--out")
case("screen without a slide", ["screen", "--model", "{model}", "--out", "{tmp}/o"], 64, "slides")

# Slides: each fails by name (exit 1) and writes no result.
slide_files = [
    ("empty.svs", b"", "the file is empty"),
    ("text.svs", "this is not a slide\n" * 20, "not a slide that HistoScreen can read"),
    ("random.tif", bytes((i * 7919 + 13) % 251 for i in range(4096)), "random.tif"),
    ("tiff-header-only.tif", b"II*\x00\x08\x00\x00\x00", "the file is damaged"),
    ("tiff-ifd-beyond-eof.tif", b"II*\x00" + struct.pack("<I", 1 << 30) + b"\0" * 16, "the file is damaged"),
    ("bigtiff-header-only.tif", b"II+\x00\x08\x00\x00\x00" + struct.pack("<Q", 16), "the file is damaged"),
    ("tiff-ifd-loop.tif", b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 0) + struct.pack("<I", 8), "tiff-ifd-loop.tif"),
    ("png-truncated.png", png(64, 64)[:60], "png-truncated.png"),
    ("png-bad-crc.png", png(64, 64, crc_ok=False), "png-bad-crc.png"),
    ("png-zero-size.png", png(0, 0, rows=b""), "png-zero-size.png"),
    ("png-huge-header.png", png(200000, 200000, rows=b"\0")[:33] + b"\0" * 64, "png-huge-header.png"),
    ("jpeg-named.svs", bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9"), "jpeg-named.svs"),
    ("gif-named.tif", b"GIF89a" + b"\0" * 64, "gif-named.tif"),
    ("pdf-named.ndpi", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"\0" * 64, "pdf-named.ndpi"),
    ("zip-named.mrxs", b"PK\x03\x04" + b"\0" * 64, "zip-named.mrxs"),
]
for name, data, message in slide_files:
    case(f"slide {name}", ["screen", write(name, data), "--mpp", "0.5", "--model", "{model}", "--out", "{tmp}/o", "--quiet"], 1, message)
for kind in ["truncated99", "truncated60", "tileDataFlipped", "tileOffsetZeroed", "directoryFlipped"]:
    case(f"slide damaged {kind}", ["screen", "{damaged:%s}" % kind, "--model", "{model}", "--out", "{tmp}/o", "--quiet"], 1, f"{kind}.svs: ")
case("slide that does not exist", ["screen", "{tmp}/nowhere.svs", "--model", "{model}", "--out", "{tmp}/o", "--quiet"], 1, "nowhere.svs: no such file")
case("slide that is a folder", ["screen", "{tmp}", "--model", "{model}", "--out", "{tmp}/o", "--quiet"], 1, "is a directory")
case("slide without resolution", ["screen", write("no-mpp.png", png(64, 64)), "--model", "{model}", "--out", "{tmp}/o", "--quiet"], 1,
     "records no µm per pixel")
case("slide of 1 pixel", ["screen", write("one-pixel.png", png(1, 1)), "--mpp", "0.5", "--model", "{model}", "--out", "{tmp}/o", "--quiet"],
     0, "")
case("slide too many cells", ["screen", write("large-white.png", png(3300, 3300, rows=b"".join(b"\0" + b"\xff" * 9900 for _ in range(3300)))),
                               "--mpp", "20", "--stride", "32", "--model", "{model}", "--out", "{tmp}/o", "--quiet"], 1, "without --force")
case("output under a file", ["screen", "{cmu}", "--model", "{model}", "--out", "{file:text.svs}/o", "--quiet"], 1, "is a file, not a folder")

# Model bundles: each refused by name with the field (exit 1).
bundle_cases = [
    ("no such bundle", "{tmp}/none.hsmodel", "no such model bundle"),
    ("bundle is a file", "{file:text.svs}", "a model bundle is a folder"),
    ("model.json missing", "{bundle:delete=model.json}", "model.json is missing"),
    ("weights missing", "{bundle:delete=weights.safetensors}", "weights.safetensors is missing"),
    ("model.json not JSON", "{bundle:model.json=not json}", "model.json is not valid JSON"),
    ("model.json empty", "{bundle:model.json=}", "model.json is not valid JSON"),
    ("wrong format", "{bundle:json.format=\"keras\"}", "not a HistoScreen model"),
    ("format version 7", "{bundle:json.formatVersion=7}", "format version 7"),
    ("no architecture", "{bundle:json.architecture=null}", "malformed"),
    ("threshold 0", "{bundle:json.threshold=0}", "invalid threshold"),
    ("threshold 1.5", "{bundle:json.threshold=1.5}", "invalid threshold"),
    ("threshold text", "{bundle:json.threshold=\"high\"}", "malformed"),
    ("mpp 0", "{bundle:json.micronsPerPixel=0}", "µm per pixel"),
    ("mpp -1", "{bundle:json.micronsPerPixel=-1}", "µm per pixel"),
    ("std 0", "{bundle:json.normalization.std=[0,1,1]}", "normalisation"),
    ("mean of 2", "{bundle:json.normalization.mean=[0.5,0.5]}", "normalisation"),
    ("conv kernel 0", "{bundle:json.architecture.layers.0.kernel=0}", "kernel 0"),
    ("conv stride 0", "{bundle:json.architecture.layers.0.stride=0}", "stride 0"),
    ("conv units 0", "{bundle:json.architecture.layers.0.units=0}", "units 0"),
    ("conv units 1e9", "{bundle:json.architecture.layers.0.units=1000000000}", "units 1000000000"),
    ("conv kernel 1000", "{bundle:json.architecture.layers.0.kernel=1000}", "kernel 1000"),
    ("padding -1", "{bundle:json.architecture.layers.0.padding=[-1,0,0,0]}", "padding"),
    ("pool kernel 0", "{bundle:json.architecture.layers.3.kernel=0}", "kernel 0"),
    ("pool stride 0", "{bundle:json.architecture.layers.3.stride=0}", "stride 0"),
    ("dropout rate 1", "{bundle:json.architecture.layers.5.rate=1}", "rate 1.0 is not in [0, 1)"),
    ("bn epsilon -1", "{bundle:json.architecture.layers.1.epsilon=-1}", "epsilon -1"),
    ("bn momentum 2", "{bundle:json.architecture.layers.1.momentum=2}", "momentum 2"),
    ("unknown layer type", "{bundle:json.architecture.layers.2.type=\"swish\"}", "malformed"),
    ("duplicate layer name", "{bundle:json.architecture.layers.2.name=\"c1\"}", "used twice"),
    ("input odd", "{bundle:json.architecture.inputShape=[97,97,3]}", "not a square RGB patch"),
    ("input not square", "{bundle:json.architecture.inputShape=[96,64,3]}", "not a square RGB patch"),
    ("input grey", "{bundle:json.architecture.inputShape=[96,96,1]}", "normalisation"),
    ("input huge", "{bundle:json.architecture.inputShape=[16384,16384,3]}", "larger than 8192"),
    ("input zero", "{bundle:json.architecture.inputShape=[0,0,3]}", "not a square RGB patch"),
    ("two logits", "{bundle:json.architecture.layers.6.units=2}", "one logit"),
    ("residual without a branch", "{bundle:json.architecture.layers.2={\"type\":\"residual\",\"name\":\"res\"}}", "needs 'layers'"),
    ("residual paths disagree", "{bundle:json.architecture.layers.2={\"type\":\"residual\",\"name\":\"res\","
                                "\"layers\":[{\"type\":\"maxpool\",\"name\":\"rp\",\"kernel\":2}]}}", "its branch gives"),
    ("operating point 2", "{bundle:json.operatingPoints={\"balanced\":2,\"screening\":0.1,\"screeningSensitivity\":0.95,"
                          "\"defaultPoint\":\"balanced\",\"chosenOn\":\"x\"}}", "invalid operating points"),
    ("operating point default unknown", "{bundle:json.operatingPoints={\"balanced\":0.5,\"screening\":0.1,\"screeningSensitivity\":0.95,"
                                        "\"defaultPoint\":\"best\",\"chosenOn\":\"x\"}}", "invalid operating points"),
    ("weights empty", "{bundle:weights.safetensors=}", "shorter than the 8-byte header"),
    ("weights header huge", "{bundle:weights.safetensors=\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x7f{}}", "bad safetensors file"),
    ("weights not JSON header", "{bundle:weights.safetensors=\\x02\\x00\\x00\\x00\\x00\\x00\\x00\\x00{x}", "bad safetensors file"),
    ("weights tensor missing", "{bundle:tensor.c1.kernel=delete}", "missing tensors: c1.kernel"),
    ("weights NaN", "{bundle:tensor.c1.kernel=nan}", "holds NaN or Inf"),
    ("weights negative variance", "{bundle:tensor.bn1.moving_variance=-1}", "variance"),
    ("weights wrong shape", "{bundle:tensor.logit.kernel=shape5}", "has shape [5, 1]"),
]
for name, bundle, message in bundle_cases:
    case(f"bundle {name}", ["screen", "{cmu}", "--model", bundle, "--out", "{tmp}/o", "--quiet"], 1, message)
case("operating point on a bundle without", screen + ["--operating-point", "balanced"], 1, "carries no operating points")

# Datasets (evaluate): each names the file and the problem (exit 1).
evaluate = ["evaluate", "{model}"]
dataset_cases = [
    ("no such dataset", "{tmp}/none.csv", "no such dataset"),
    ("empty CSV", write("empty.csv", ""), "the CSV is empty"),
    ("no label column", write("no-label.csv", "path,class\na.png,1\n"), "no 'label' column"),
    ("no path or id", write("no-path.csv", "file,label\na.png,1\n"), "needs an 'id'"),
    ("label 2", write("label-2.csv", "path,label\n{fixtures}/pcam-mini/0011a007b64a4a0f351ee4d7d00f237b1713b9bf.png,2\n"), "is not 0 or 1"),
    ("label text", write("label-text.csv", "path,label\n{fixtures}/pcam-mini/0011a007b64a4a0f351ee4d7d00f237b1713b9bf.png,tumour\n"),
     "is not 0 or 1"),
    ("conflicting duplicate", write("conflict.csv", "path,label\n{fixtures}/pcam-mini/0011a007b64a4a0f351ee4d7d00f237b1713b9bf.png,1\n"
                                    "{fixtures}/pcam-mini/0011a007b64a4a0f351ee4d7d00f237b1713b9bf.png,0\n"), "conflicting labels"),
    ("missing files", write("missing.csv", "path,label\nnot-here.png,1\nnor-here.png,0\n"), "2 listed files are missing"),
    ("one class", write("one-class.csv", "path,label\n{fixtures}/pcam-mini/0011a007b64a4a0f351ee4d7d00f237b1713b9bf.png,1\n"), "class 0"),
    ("short row", write("short-row.csv", "path,label,slide\n{fixtures}/pcam-mini/0011a007b64a4a0f351ee4d7d00f237b1713b9bf.png\n"), "fields"),
    ("wrong size patch", write("wrong-size.csv", "path,label\none-pixel.png,1\nno-mpp.png,0\n"), "expected 96×96"),
    ("unreadable patch", write("unreadable.csv", "path,label\npng-truncated.png,1\npng-bad-crc.png,0\n"), "unreadable image"),
    ("folder without labels", "{tmp}", "no pos/neg"),
    ("not UTF-8", write("latin1.csv", b"path,label\n\xe9\xe8.png,1\n"), "UTF-8"),
]
for name, dataset, message in dataset_cases:
    case(f"dataset {name}", evaluate + [dataset, "--out", "{tmp}/e", "--quiet"], 1, message)
case("evaluate --resamples 0", evaluate + ["{mini}", "--out", "{tmp}/e", "--resamples", "0"], 64, "--resamples must be between")
case("evaluate --subset foo", evaluate + ["{mini}", "--split", "{file:split-bad-subset.csv}", "--subset", "foo", "--out", "{tmp}/e"], 64,
     "--subset must be train, val or test")
write("split-bad-subset.csv", "id,label,subset\nx,1,holdout\n")

# Manifests and splits (train): each names the file and the line.
train = ["train", "--out", "{tmp}/m.hsmodel", "--epochs", "1", "--quiet"]
for name, text, message in [
    ("manifest bad role", "path,role\n{mini},training\n", "role 'training'"),
    ("manifest split role without split", "path,role\n{mini},split\n", "needs a split file"),
    ("manifest subsets without split", "path,role,split,subsets\n{mini},train,,val\n", "subsets need a split file"),
    ("manifest bad subset", "path,role,split,subsets\n{mini},train,x.csv,holdout\n", "subset 'holdout'"),
    ("manifest no columns", "dataset\n{mini}\n", "columns path and role"),
    ("manifest empty", "path,role\n", "lists no datasets"),
    ("manifest two roles", "path,role\n{mini},train\n{mini},val\n", "two roles"),
    ("manifest missing dataset", "path,role\n/nonexistent/data,train\n", "no such dataset"),
]:
    safe = name.replace(" ", "-")
    case(name, train + ["--manifest", write(f"{safe}.csv", text)], 1, message)
for name, text, message in [
    ("split no columns", "name,part\n", "needs the columns id, label and subset"),
    ("split unknown id", "id,label,subset\nnot-a-patch,1,train\n", "is not in the dataset"),
    ("split bad subset", "id,label,subset\nx,1,holdout\n", "expected a subset of train, val or test"),
]:
    safe = name.replace(" ", "-")
    case(name, ["train", "{mini}", "--split", write(f"{safe}.csv", text), "--out", "{tmp}/m.hsmodel", "--quiet"], 1, message)

# Options of train and calibrate.
for option, value, message in [
    ("--epochs", "0", "must be positive"), ("--lr", "-1", "--lr"), ("--batch", "0", "must be positive"),
    ("--optimizer", "lbfgs", "--optimizer must be"), ("--schedule", "linear", "--schedule must be"),
]:
    case(f"train {option} {value}", train + ["--train-data", "{mini}", "--val-data", "{mini}", option, value], 64, message)
case("train --augment sharpen", train + ["--train-data", "{mini}", "--arch", "compact-slim", "--augment", "sharpen"], 1, "unknown augmentation 'sharpen'")
case("train --arch unknown", train + ["--train-data", "{mini}", "--arch", "resnet9000"], 64, "unknown architecture 'resnet9000'")
case("train without data", ["train", "--out", "{tmp}/m.hsmodel"], 64, "give the data")
case("ensemble of one", ["ensemble", "{model}", "--out", "{tmp}/e.hsmodel"], 64, "give two to nine model bundles")
case("ensemble member missing", ["ensemble", "{model}", "{tmp}/none.hsmodel", "--out", "{tmp}/e.hsmodel"], 1, "none.hsmodel: no such model bundle")
case("ensemble of other inputs", ["ensemble", "{model}", "{bundle:json.normalization.mean=[0.1,0.2,0.3]}", "--out", "{tmp}/e.hsmodel"], 1,
     "normalises its input differently")
case("calibrate without data", ["calibrate", "{model}"], 64, "give --manifest or --val-data")
case("calibrate --sensitivity 1.5", ["calibrate", "{model}", "--val-data", "{mini}", "--sensitivity", "1.5"], 64, "--sensitivity must lie")
case("calibrate --default-point best", ["calibrate", "{model}", "--val-data", "{mini}", "--default-point", "best"], 64, "--default-point")

# Screen output options.
for option, value, message in [
    ("--min-region-cells", "0", "--min-region-cells must be at least 1"), ("--min-region-cells", "abc", "--min-region-cells"),
    ("--heatmap-floor", "2", "--heatmap-floor must be between 0 and 1"), ("--heatmap-floor", "nan", "--heatmap-floor must be between 0 and 1"),
    ("--viewer-mpp", "0", "--viewer-mpp must be between"), ("--viewer-mpp", "100", "--viewer-mpp must be between"),
    ("--viewer-mpp", "nan", "--viewer-mpp must be between"),
]:
    case(f"screen {option} {value}", screen + [option, value], 64, message)

# evaluate-slide: results and annotations. A screen result of a 192 x 96-pixel slide at
# 0.972 um/px and stride 96 (two cells), as summary.json and tiles.csv.
def summary(mpp=0.972):
    return json.dumps({
        "status": "ok",
        "slide": {"path": "s.tif", "name": "s", "hash": "0", "hashAlgorithm": "sha256", "format": "tiff", "widthLevel0": 192,
                  "heightLevel0": 96, "mppX": mpp, "mppY": mpp, "mppSource": "user", "levelUsed": 0, "levelDownsample": 1},
        "tiles": {"total": 2, "withTissue": 2, "positive": 1, "cellWidthLevel0": 96, "cellHeightLevel0": 96},
        "tumourFraction": 0.5, "tissueAreaMM2": 0.017, "positiveAreaMM2": 0.009, "maxProbability": 0.9, "largestRegionMM2": 0.009,
        "regionCount": 1, "threshold": 0.5,
        "model": {"name": "m", "path": "m", "sha256": "0", "architecture": "x", "micronsPerPixel": 0.972},
        "tool": {"name": "histoscreen", "version": "0"},
        "parameters": {"stride": 96, "testTimeAugmentation": False, "minimumTissue": 0.5, "batchSize": 64},
        "timings": {"tissueSeconds": 0, "readSeconds": 0, "inferenceSeconds": 0, "writeSeconds": 0, "totalSeconds": 0, "tilesPerSecond": 0},
        "outputs": [],
    })


header = "x,y,width,height,row,column,tissue_fraction,probability\n"
tiles_ok = header + "0,0,96,96,0,0,1.0000,0.900000\n96,0,96,96,0,1,1.0000,0.100000\n"
result_ok = write_folder("result-ok", {"summary.json": summary(), "tiles.csv": tiles_ok})
truth_ok = write("truth-ok.geojson", json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [96, 0], [96, 96], [0, 96], [0, 0]]]}))
evaluate_slide = ["evaluate-slide", result_ok, "--truth"]
for name, folder, message in [
    ("summary not JSON", {"summary.json": "{", "tiles.csv": tiles_ok}, "is not a HistoScreen summary"),
    ("summary implausible resolution", {"summary.json": summary(mpp=0), "tiles.csv": tiles_ok}, "implausible slide size, resolution or stride"),
    ("tiles.csv missing", {"summary.json": summary()}, "tiles.csv: cannot be read"),
    ("tiles.csv foreign", {"summary.json": summary(), "tiles.csv": "a,b\n1,2\n"}, "is not a HistoScreen tiles.csv"),
    ("tiles.csv cell outside the grid", {"summary.json": summary(), "tiles.csv": header + "0,0,96,96,5,0,1.0,0.9\n"}, "line 2 is not a cell"),
    ("tiles.csv probability 2", {"summary.json": summary(), "tiles.csv": header + "0,0,96,96,0,0,1.0,2\n"}, "line 2 is not a cell"),
    ("tiles.csv short line", {"summary.json": summary(), "tiles.csv": header + "0,0,96\n"}, "line 2 is not a cell"),
]:
    safe = name.replace(" ", "-").replace(".", "-")
    case(f"evaluate-slide {name}", ["evaluate-slide", write_folder(f"result-{safe}", folder), "--truth", truth_ok], 1, message)
for name, text, message in [
    ("not JSON or XML", "tumour at the top left", "neither JSON nor XML"),
    ("JSON but not GeoJSON", "42", "is JSON but not GeoJSON"),
    ("ring of two points", '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}', "rings of at least 3"),
    ("ring of strings", '{"type": "Polygon", "coordinates": [[["a", "b"], [1, 1], [2, 2]]]}', "rings of at least 3"),
    ("MultiPolygon without coordinates", '{"type": "MultiPolygon"}', "MultiPolygon without coordinates"),
    ("XML not well formed", "<ASAP_Annotations><Annotations>", "is not well-formed XML"),
    ("XML coordinate not numeric", '<ASAP_Annotations><Annotations><Annotation Type="Polygon" PartOfGroup="Tumor"><Coordinates>'
     '<Coordinate Order="0" X="a" Y="1"/></Coordinates></Annotation></Annotations></ASAP_Annotations>', "a Coordinate without numeric X and Y"),
]:
    safe = name.replace(" ", "-")
    case(f"evaluate-slide truth {name}", evaluate_slide + [write(f"truth-{safe}.geojson", text)], 1, message)
case("evaluate-slide truth missing", evaluate_slide + ["{tmp}/none.geojson"], 1, "none.geojson: no such file or folder")
case("evaluate-slide of a missing folder", ["evaluate-slide", "{tmp}/none", "--truth", truth_ok], 1, "none: not a folder")
case("evaluate-slide of a folder without results", ["evaluate-slide", "{tmp}", "--truth", truth_ok], 1, "holds no screen results")
case("evaluate-slide --threshold 2", evaluate_slide + [truth_ok, "--threshold", "2"], 64, "--threshold must be between 0 and 1")
case("evaluate-slide --resamples 0", evaluate_slide + [truth_ok, "--resamples", "0"], 64, "--resamples must be between")

# Worklists and triage.
case("worklist of a missing folder", ["worklist", "{tmp}/none"], 1, "none")
case("triage of an empty folder", ["triage", "{tmp}", "--model", "{model}", "--out", "{tmp}/t", "--quiet"], 2, "no slides found")

names = [c["name"] for c in cases]
assert len(names) == len(set(names)), "case names must be unique"
(out / "cases.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {len(cases)} cases and {len(list(files.iterdir()))} files to {out.relative_to(root)}")

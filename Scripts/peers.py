#!/usr/bin/env python3
"""Cross-checks and peer benchmarks for HistoScreen, run against independent engines.

    python3 Scripts/peers.py check     # probabilities agree with onnxruntime within 1e-4 (bundled model, compact, vgg16)
    python3 Scripts/peers.py infer     # inference: HistoScreen / onnxruntime, interleaved rounds
    python3 Scripts/peers.py train     # training: HistoScreen / Keras on TensorFlow, interleaved rounds
    python3 Scripts/peers.py screen    # `histoscreen screen` vs openslide-python + onnxruntime on the same tiles
    python3 Scripts/peers.py graph     # imported ONNX models: `histoscreen bench-model` vs onnxruntime on the same file,
                                       # and the seed's Keras VGG16 (imported) vs the built-in vgg16
    python3 Scripts/peers.py all

Needs a release build (swift build -c release) and
    pip install numpy pillow safetensors onnx onnxruntime openslide-python tensorflow-cpu
(TensorFlow only for `train`). `graph` also needs Debian's python3-torch and python3-torchvision
(Scripts/setup-debian.sh --test), run as /usr/bin/python3, and tensorflow-cpu with tf2onnx. The ONNX and Keras models are built here from the bundle's own
model.json and weights.safetensors, so every engine runs the same network with the same weights.
Both peers get 2 threads, as HistoScreen uses both cores. Speeds are reported as ratios with the
median and range over rounds, because this machine is shared and noisy.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
BIN = ROOT / ".build" / "release" / "histoscreen"
BUNDLED = ROOT / "Samples" / "models" / "histoscreen-pcam.hsmodel"
THREADS = 2


def histoscreen(*args):
    out = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"histoscreen {' '.join(map(str, args))} failed:\n{out.stderr}")
    return out.stdout


def load_bundle(path):
    from safetensors.numpy import load_file
    manifest = json.loads((Path(path) / "model.json").read_text())
    weights = load_file(str(Path(path) / "weights.safetensors"))
    return manifest, weights


def same_padding(size, kernel, stride):
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def onnx_model(manifest, weights):
    """The bundle's network as an ONNX graph: input x [N, H, W, C] normalised, output p = σ(logit)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    spec = manifest["architecture"]
    h, w, c = spec["inputShape"]
    nodes, inits = [], []
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def init(key, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array.astype(np.float32)), key))
        return key

    def emit(layers, name, h, w):
        """Appends the chain's nodes after `name`; returns the last output and its spatial size."""
        for layer in layers:
            t, lname = layer["type"], layer["name"]
            if t == "conv2d":
                k, stride, pad = layer["kernel"], layer.get("stride", 1), layer.get("padding", "same")
                if pad == "same":
                    (t0, b0), (l0, r0) = same_padding(h, k, stride), same_padding(w, k, stride)
                elif pad == "valid":
                    t0 = b0 = l0 = r0 = 0
                else:
                    t0, b0, l0, r0 = pad
                inputs = [name, init(f"{lname}.W", weights[f"{lname}.kernel"].transpose(3, 2, 0, 1))]
                if f"{lname}.bias" in weights:
                    inputs.append(init(f"{lname}.B", weights[f"{lname}.bias"]))
                out = fresh(lname)
                nodes.append(helper.make_node("Conv", inputs, [out], kernel_shape=[k, k], strides=[stride, stride],
                                              pads=[t0, l0, b0, r0]))
                h, w = (h + t0 + b0 - k) // stride + 1, (w + l0 + r0 - k) // stride + 1
            elif t == "batchnorm":
                out = fresh(lname)
                nodes.append(helper.make_node("BatchNormalization", [
                    name, init(f"{lname}.g", weights[f"{lname}.gamma"]), init(f"{lname}.b", weights[f"{lname}.beta"]),
                    init(f"{lname}.m", weights[f"{lname}.moving_mean"]), init(f"{lname}.v", weights[f"{lname}.moving_variance"])],
                    [out], epsilon=layer.get("epsilon", 1e-3)))
            elif t == "relu":
                out = fresh(lname)
                nodes.append(helper.make_node("Relu", [name], [out]))
            elif t == "maxpool":
                size = layer.get("kernel", 2)
                stride = layer.get("stride", size)
                out = fresh(lname)
                nodes.append(helper.make_node("MaxPool", [name], [out], kernel_shape=[size, size], strides=[stride, stride]))
                h, w = (h - size) // stride + 1, (w - size) // stride + 1
            elif t == "globalAveragePool":
                mid, out = fresh(lname), fresh(lname)
                nodes.append(helper.make_node("GlobalAveragePool", [name], [mid]))
                nodes.append(helper.make_node("Flatten", [mid], [out], axis=1))
            elif t == "flatten":
                mid, out = fresh(lname), fresh(lname)
                nodes.append(helper.make_node("Transpose", [name], [mid], perm=[0, 2, 3, 1]))  # NHWC order, as HistoScreen
                nodes.append(helper.make_node("Flatten", [mid], [out], axis=1))
            elif t == "dense":
                inputs = [name, init(f"{lname}.K", weights[f"{lname}.kernel"])]
                if f"{lname}.bias" in weights:
                    inputs.append(init(f"{lname}.C", weights[f"{lname}.bias"]))
                out = fresh(lname)
                nodes.append(helper.make_node("Gemm", inputs, [out]))
            elif t == "residual":
                # The branch's output plus the shortcut's (the identity when it has no layers).
                branch, bh, bw = emit(layer["layers"], name, h, w)
                shortcut, _, _ = emit(layer.get("shortcut") or [], name, h, w)
                out = fresh(lname)
                nodes.append(helper.make_node("Add", [branch, shortcut], [out]))
                h, w = bh, bw
            elif t == "dropout":
                continue
            else:
                raise ValueError(f"unsupported layer type {t}")
            name = out
        return name, h, w

    out = fresh("nchw")
    nodes.append(helper.make_node("Transpose", ["x"], [out], perm=[0, 3, 1, 2]))
    name, _, _ = emit(spec["layers"], out, h, w)
    nodes.append(helper.make_node("Sigmoid", [name], ["p"]))
    graph = helper.make_graph(nodes, spec["name"], [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *spec["inputShape"]])],
                              [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def ort_session(model):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def normalise(pixels, manifest):
    n = manifest["normalization"]
    return ((pixels.astype(np.float32) / 255 - np.array(n["mean"], np.float32)) / np.array(n["std"], np.float32)).astype(np.float32)


def real_patches(count):
    from PIL import Image
    ids = sorted(row["id"] for row in csv.DictReader(open(SHARED / "pcam-kaggle" / "train_labels.csv")))
    step = max(1, len(ids) // count)
    chosen = ids[::step][:count]
    pixels = np.stack([np.asarray(Image.open(SHARED / "pcam-kaggle" / "train" / f"{i}.tif").convert("RGB")) for i in chosen])
    return chosen, pixels


def bundle_arch(path):
    return json.loads((Path(path) / "model.json").read_text())["architecture"]["name"]


def bundles(tmp):
    """Bundles by architecture: the bundled trained model under its own architecture, and
    untrained (seeded) compact and vgg16 bundles for the architectures it is not."""
    out = {}
    if BUNDLED.exists():
        out[bundle_arch(BUNDLED)] = BUNDLED
    for arch in ["compact", "vgg16"]:
        if arch not in out:
            out[arch] = Path(tmp) / f"{arch}.hsmodel"
            histoscreen("init-model", "--arch", arch, "--seed", 1, "--out", out[arch])
    return out


def check(args):
    """Probabilities of HistoScreen and onnxruntime on the same real patches."""
    worst_all = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        ids, pixels = real_patches(args.patches)
        dataset = Path(tmp) / "patches.csv"
        with open(dataset, "w") as f:
            f.write("path,label\n")
            labels = {row["id"]: row["label"] for row in csv.DictReader(open(SHARED / "pcam-kaggle" / "train_labels.csv"))}
            for i in ids:
                f.write(f"{SHARED / 'pcam-kaggle' / 'train' / (i + '.tif')},{labels[i]}\n")
        for arch, bundle in bundles(tmp).items():
            manifest, weights = load_bundle(bundle)
            session = ort_session(onnx_model(manifest, weights))
            ort_p = np.concatenate([session.run(["p"], {"x": normalise(pixels[k:k + 64], manifest)})[0][:, 0]
                                    for k in range(0, len(pixels), 64)])
            out = Path(tmp) / f"eval-{arch}"
            histoscreen("evaluate", bundle, dataset, "--out", out, "--quiet", "--resamples", 10)
            hs = {row["id"]: float(row["probability"]) for row in csv.DictReader(open(out / "predictions.csv"))}
            hs_p = np.array([hs[str(SHARED / "pcam-kaggle" / "train" / (i + ".tif"))] for i in ids])
            worst = float(np.max(np.abs(hs_p - ort_p)))
            worst_all = max(worst_all, worst)
            print(f"{arch}: {len(ids)} real patches, max |p_histoscreen − p_onnxruntime| = {worst:.2e} "
                  f"(probabilities from {ort_p.min():.3f} to {ort_p.max():.3f})")
            assert worst < 1e-4, f"{arch}: disagreement {worst} exceeds 1e-4"
    print("agreement within 1e-4: ok")
    return worst_all


def stat(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": len(values)}


def fmt(s, digits=2):
    return f"{s['median']:.{digits}f} (range {s['min']:.{digits}f}–{s['max']:.{digits}f}, {s['rounds']} rounds)"


def infer(args):
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch, bundle in bundles(tmp).items():
            if arch not in args.arch:
                continue
            manifest, weights = load_bundle(bundle)
            session = ort_session(onnx_model(manifest, weights))
            x = np.random.default_rng(1).standard_normal((args.batch, *manifest["architecture"]["inputShape"])).astype(np.float32)
            session.run(["p"], {"x": x})
            ratios, ours, theirs = [], [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                for _ in range(args.repeats):
                    session.run(["p"], {"x": x})
                ort_rate = args.batch * args.repeats / (time.perf_counter() - t0)
                report = json.loads(histoscreen("bench", "--arch", arch, "--batch", args.batch, "--repeats", args.repeats,
                                                "--no-training", "--no-sgemm", "--json"))
                hs_rate = report["architectures"][0]["inferencePatchesPerSecond"]["median"]
                ours.append(hs_rate); theirs.append(ort_rate); ratios.append(hs_rate / ort_rate)
            results[arch] = {"histoscreen": stat(ours), "onnxruntime": stat(theirs), "ratio": stat(ratios)}
            print(f"{arch} inference, batch {args.batch}: HistoScreen {fmt(stat(ours), 1)} patches/s, "
                  f"onnxruntime {fmt(stat(theirs), 1)} patches/s; ratio {fmt(stat(ratios))}")
    return results


def keras_model(spec, trainable_from=None):
    import tensorflow as tf
    from tensorflow import keras
    inputs = keras.Input(shape=spec["inputShape"])
    x = inputs
    frozen = trainable_from is not None
    for layer in spec["layers"]:
        t, name = layer["type"], layer["name"]
        if name == trainable_from:
            frozen = False
        if t == "conv2d":
            x = keras.layers.Conv2D(layer["units"], layer["kernel"], strides=layer.get("stride", 1), padding="same",
                                    use_bias=layer.get("bias", True), name=name, trainable=not frozen)(x)
        elif t == "batchnorm":
            x = keras.layers.BatchNormalization(momentum=layer.get("momentum", 0.99), epsilon=layer.get("epsilon", 1e-3),
                                                name=name, trainable=not frozen)(x)
        elif t == "relu":
            x = keras.layers.ReLU(name=name)(x)
        elif t == "maxpool":
            x = keras.layers.MaxPooling2D(layer.get("kernel", 2), name=name)(x)
        elif t == "globalAveragePool":
            x = keras.layers.GlobalAveragePooling2D(name=name)(x)
        elif t == "flatten":
            x = keras.layers.Flatten(name=name)(x)
        elif t == "dense":
            x = keras.layers.Dense(layer["units"], use_bias=layer.get("bias", True), name=name)(x)
        elif t == "dropout":
            x = keras.layers.Dropout(layer["rate"], name=name)(x)
    model = keras.Model(inputs, x)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-4, momentum=0.9),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def train(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    results = {}
    for arch in args.arch:
        spec = json.loads(histoscreen_spec(arch))
        trainable_from = "block5_conv1" if arch == "vgg16" else None
        model = keras_model(spec, trainable_from)
        rng = np.random.default_rng(1)
        x = rng.standard_normal((args.batch, *spec["inputShape"])).astype(np.float32)
        y = (np.arange(args.batch) % 2).astype(np.float32).reshape(-1, 1)
        model.train_on_batch(x, y)
        ratios, ours, theirs = [], [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                model.train_on_batch(x, y)
            keras_rate = args.batch * args.repeats / (time.perf_counter() - t0)
            report = json.loads(histoscreen("bench", "--arch", arch, "--batch", args.batch, "--repeats", args.repeats,
                                            "--no-sgemm", "--json"))
            hs_rate = report["architectures"][0]["trainingPatchesPerSecond"]["median"]
            ours.append(hs_rate); theirs.append(keras_rate); ratios.append(hs_rate / keras_rate)
        results[arch] = {"histoscreen": stat(ours), "keras": stat(theirs), "ratio": stat(ratios)}
        print(f"{arch} training{' (block5 + head trainable)' if trainable_from else ''}, batch {args.batch}: "
              f"HistoScreen {fmt(stat(ours), 1)} patches/s, Keras on TensorFlow {tf.__version__} {fmt(stat(theirs), 1)} patches/s; ratio {fmt(stat(ratios))}")
    return results


def histoscreen_spec(arch):
    with tempfile.TemporaryDirectory() as tmp:
        histoscreen("init-model", "--arch", arch, "--out", Path(tmp) / "m.hsmodel")
        return json.dumps(json.loads((Path(tmp) / "m.hsmodel" / "model.json").read_text())["architecture"])


def screen(args):
    """The screening pipeline against openslide-python + onnxruntime on the very same tiles."""
    import openslide
    from PIL import Image
    slide_path = ROOT / "Samples" / "slides" / "CMU-1-Small-Region.svs"
    with tempfile.TemporaryDirectory() as tmp:
        bundle = BUNDLED  # the model `screen` uses by default
        manifest, weights = load_bundle(bundle)
        arch = manifest["architecture"]["name"]
        session = ort_session(onnx_model(manifest, weights))
        ratios, ours, theirs, inference_share = [], [], [], []
        agreement = None
        for round_ in range(args.rounds):
            out = Path(tmp) / f"screen{round_}"
            summary = json.loads(histoscreen("screen", slide_path, "--model", bundle, "--out", out, "--stride", args.stride,
                                             "--json", "--quiet"))
            t = summary["timings"]
            tiles = summary["tiles"]["withTissue"]
            hs_rate = tiles / (t["totalSeconds"] - t["writeSeconds"])
            rows = list(csv.DictReader(open(out / "CMU-1-Small-Region" / "tiles.csv")))
            scale = manifest["micronsPerPixel"] / summary["slide"]["mppX"]
            margin = (96 - args.stride) // 2
            size = int(round(96 * scale))
            t0 = time.perf_counter()
            slide = openslide.OpenSlide(str(slide_path))
            read_time = infer_time = 0.0
            probabilities = []
            for k in range(0, len(rows), 64):
                r0 = time.perf_counter()
                batch = []
                for row in rows[k:k + 64]:
                    x, y = int(row["x"]) - int(round(margin * scale)), int(row["y"]) - int(round(margin * scale))
                    region = slide.read_region((x, y), 0, (size, size))
                    rgb = Image.alpha_composite(Image.new("RGBA", region.size, "white"), region).convert("RGB")
                    batch.append(np.asarray(rgb.resize((96, 96), Image.BOX)))
                r1 = time.perf_counter()
                probabilities.append(session.run(["p"], {"x": normalise(np.stack(batch), manifest)})[0][:, 0])
                read_time += r1 - r0
                infer_time += time.perf_counter() - r1
            py_rate = len(rows) / (time.perf_counter() - t0)
            ours.append(hs_rate); theirs.append(py_rate); ratios.append(hs_rate / py_rate)
            inference_share.append(infer_time / (read_time + infer_time))
            p = np.concatenate(probabilities)
            agreement = float(np.mean(np.abs(p - np.array([float(r["probability"]) for r in rows]))))
        bench = json.loads(histoscreen("bench", "--arch", arch, "--batch", 64, "--repeats", 3, "--no-training", "--no-sgemm", "--json"))
        pure = bench["architectures"][0]["inferencePatchesPerSecond"]["median"]
    result = {"model": arch, "tiles": tiles, "histoscreen": stat(ours), "python": stat(theirs), "ratio": stat(ratios),
              "pythonInferenceShare": statistics.median(inference_share), "meanAbsProbabilityDifference": agreement,
              "pureInference": pure, "screenOverPureInference": statistics.median(ours) / pure}
    print(f"screen {slide_path.name} with the bundled {arch} model, stride {args.stride}, {tiles} tiles: HistoScreen {fmt(stat(ours), 1)} tiles/s "
          f"(tissue detection included, writing excluded), openslide-python + onnxruntime {fmt(stat(theirs), 1)} tiles/s "
          f"({100 * result['pythonInferenceShare']:.0f}% of its time in inference); ratio {fmt(stat(ratios))}")
    print(f"  HistoScreen screen / pure inference ({pure:.1f} patches/s): {result['screenOverPureInference']:.2f}; "
          f"mean |Δp| between the pipelines {agreement:.4f} (different resamplers)")
    return result


def graph(args):
    """Imported graphs: torchvision models exported at each size with seeded random weights
    (Scripts/make_torchvision_models.py), run by `histoscreen bench-model` and by onnxruntime
    from the same .onnx file in interleaved rounds; then the seed's Keras VGG16 through tf2onnx
    (Scripts/make_keras_vgg16.py), imported, against the built-in vgg16 spec."""
    import onnx
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        models = []
        for size in args.sizes:
            out = Path(tmp) / str(size)
            command = ["/usr/bin/python3", str(ROOT / "Scripts" / "make_torchvision_models.py"), "--out", str(out), "--size", str(size)]
            for arch in args.graph_arch:
                command += ["--arch", arch]
            made = subprocess.run(command, capture_output=True, text=True)
            if made.returncode != 0:
                sys.exit(f"make_torchvision_models.py failed:\n{made.stderr}")
            models += [(f"{arch} {size}px", out / f"{arch}.onnx", size) for arch in args.graph_arch]
        for label, path, size in models:
            session = ort_session(onnx.load(str(path)))
            name = session.get_inputs()[0].name
            x = np.random.default_rng(1).standard_normal((args.batch, 3, size, size)).astype(np.float32)
            session.run(None, {name: x})
            ratios, ours, theirs = [], [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                for _ in range(args.repeats):
                    session.run(None, {name: x})
                ort_rate = args.batch * args.repeats / (time.perf_counter() - t0)
                report = json.loads(histoscreen("bench-model", path, "--model-mpp", 0.97, "--normalization", "imagenet",
                                                "--batch", args.batch, "--repeats", args.repeats, "--json"))
                ours.append(report["median"]); theirs.append(ort_rate); ratios.append(report["median"] / ort_rate)
            results[label] = {"histoscreen": stat(ours), "onnxruntime": stat(theirs), "ratio": stat(ratios)}
            print(f"{label} imported, batch {args.batch}: HistoScreen {fmt(stat(ours), 1)} patches/s, "
                  f"onnxruntime {fmt(stat(theirs), 1)} patches/s; ratio {fmt(stat(ratios))}")
        keras = Path(tmp) / "keras"
        made = subprocess.run([sys.executable, str(ROOT / "Scripts" / "make_keras_vgg16.py"), "--out", str(keras), "--count", "16"],
                              capture_output=True, text=True)
        if made.returncode != 0:
            print(f"seed's Keras VGG16 skipped: make_keras_vgg16.py failed (tensorflow-cpu and tf2onnx needed):\n{made.stderr[-2000:]}")
            return results
        ratios, ours, theirs = [], [], []
        for _ in range(args.rounds):
            imported = json.loads(histoscreen("bench-model", keras / "vgg16-seed.onnx", "--model-mpp", 0.97, "--normalization", "pcam",
                                              "--batch", args.batch, "--repeats", args.repeats, "--json"))["median"]
            built_in = json.loads(histoscreen("bench", "--arch", "vgg16", "--batch", args.batch, "--repeats", args.repeats,
                                              "--no-training", "--no-sgemm", "--json"))["architectures"][0]["inferencePatchesPerSecond"]["median"]
            ours.append(imported); theirs.append(built_in); ratios.append(imported / built_in)
        results["keras vgg16 vs built-in vgg16"] = {"imported": stat(ours), "built-in": stat(theirs), "ratio": stat(ratios)}
        print(f"seed's Keras VGG16 imported, batch {args.batch}: {fmt(stat(ours), 1)} patches/s; built-in vgg16 "
              f"{fmt(stat(theirs), 1)} patches/s; ratio {fmt(stat(ratios))}")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["check", "infer", "train", "screen", "graph", "all"])
    parser.add_argument("--arch", nargs="+", default=["compact", "vgg16"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--patches", type=int, default=256)
    parser.add_argument("--stride", type=int, default=32)
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 224], help="graph: input sizes")
    parser.add_argument("--graph-arch", nargs="+", default=["resnet18"], help="graph: torchvision architectures")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: run `swift build -c release` first")
    results = {}
    for what, fn in [("check", check), ("infer", infer), ("train", train), ("screen", screen), ("graph", graph)]:
        if args.what in (what, "all"):
            results[what] = fn(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tiny ONNX graphs, one or two per operator HistoScreen runs, with onnxruntime's outputs.

Each fixture is Tests/Fixtures/onnx/NAME.onnx (built with onnx.helper, weights drawn from a
seeded generator) and NAME.json: the input (batch 2, NCHW) and onnxruntime's output for it,
which GraphGoldenTests compares HistoScreen's graph engine against. Graphs whose shape
constant fixes the batch at 1 (as a static export writes it) are run by onnxruntime one image
at a time, which is what HistoScreen does with them.

    python3 Scripts/make_onnx_fixtures.py      (onnx and onnxruntime from PyPI)
"""
import json
import pathlib

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

root = pathlib.Path(__file__).resolve().parent.parent
out = root / "Tests/Fixtures/onnx"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)


def weight(name, *shape, scale=0.5):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def scalar(name, value):
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def save(name, nodes, initializers, out_shape, size=8, opset=13, per_image=False, note=""):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [])
    y.type.tensor_type.ClearField("shape")
    graph = helper.make_graph(nodes, name, [x], [y], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_onnx_fixtures.py")
    model.ir_version = 8

    path = out / f"{name}.onnx"
    onnx.save(model, path)
    data = rng.standard_normal((2, 3, size, size)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if per_image:
        result = np.concatenate([session.run(None, {"x": data[i:i + 1]})[0] for i in range(2)])
    else:
        result = session.run(None, {"x": data})[0]
    (out / f"{name}.json").write_text(json.dumps({
        "note": note, "inputShape": list(data.shape), "input": [float(f"{v:.9g}") for v in data.ravel()],
        "outputShape": list(result.shape), "output": [float(f"{v:.9g}") for v in result.ravel()],
    }) + "\n")
    print(f"{name}: {list(result.shape)}")


N = helper.make_node
save("conv_basic", [N("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])], [weight("w", 4, 3, 3, 3), weight("b", 4)], None)
save("conv_strided_dilated", [N("Conv", ["x", "w"], ["y"], strides=[2, 2], dilations=[2, 2], pads=[1, 0, 2, 1])],
     [weight("w", 5, 3, 3, 3)], None, size=11)
save("conv_groups", [N("Conv", ["x", "w1"], ["a"], kernel_shape=[1, 1]), N("Conv", ["a", "w2", "b2"], ["y"], group=2, pads=[1, 1, 1, 1])],
     [weight("w1", 6, 3, 1, 1), weight("w2", 4, 3, 3, 3), weight("b2", 4)], None)
save("conv_depthwise_same_upper", [N("Conv", ["x", "w"], ["y"], group=3, strides=[2, 2], auto_pad="SAME_UPPER")],
     [weight("w", 3, 1, 3, 3)], None, size=9)
save("conv_same_lower", [N("Conv", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_LOWER")], [weight("w", 2, 3, 4, 4)], None, size=9)
save("conv_bn_relu", [
    N("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
    N("BatchNormalization", ["c", "g", "beta", "mean", "var"], ["n"], epsilon=1e-3),
    N("Relu", ["n"], ["r"]),
    N("Add", ["r", "x2"], ["s"]),
    N("BatchNormalization", ["s", "g", "beta", "mean", "var"], ["y"]),
], [weight("w", 3, 3, 3, 3), weight("b", 3), weight("g", 3), weight("beta", 3), weight("mean", 3),
    numpy_helper.from_array((rng.random(3) + 0.5).astype(np.float32), "var"), weight("x2", 1, 3, 1, 1)], None,
    note="the first BatchNormalization folds into the Conv; the second, after Add, runs on its own")
save("activations", [
    N("Clip", ["x", "lo", "hi"], ["a"]), N("LeakyRelu", ["x"], ["b"], alpha=0.1), N("Add", ["a", "b"], ["c"]),
    N("HardSigmoid", ["c"], ["d"], alpha=0.3, beta=0.4), N("HardSwish", ["x"], ["e"]), N("Sigmoid", ["e"], ["f"]),
    N("Mul", ["d", "f"], ["g"]), N("Relu", ["g"], ["h"]), N("Identity", ["h"], ["i"]), N("Dropout", ["i"], ["y"]),
], [scalar("lo", -0.5), scalar("hi", 0.7)], None, opset=14)
save("clip_relu6_opset11", [N("Clip", ["x", "lo", "hi"], ["y"])], [scalar("lo", 0.0), scalar("hi", 6.0)], None, opset=11)
save("broadcast", [
    N("Mul", ["x", "s"], ["a"]), N("Add", ["a", "c"], ["b"]), N("Mul", ["b", "row"], ["d"]), N("Add", ["d", "k"], ["y"]),
], [weight("s", 1, 3, 1, 1), weight("c", 3, 1, 1), weight("row", 8), scalar("k", 0.25)], None)
save("concat", [N("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]), N("Conv", ["x", "w2"], ["b"]), N("Concat", ["a", "x", "b2"], ["y"], axis=1),
                N("Conv", ["x", "w3"], ["b2"], pads=[1, 1, 1, 1])],
     [weight("w1", 2, 3, 3, 3), weight("w2", 2, 3, 1, 1), weight("w3", 4, 3, 3, 3)], None)
save("maxpool_ceil_pad", [N("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)], [], None, size=10)
save("maxpool_dilated", [N("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[1, 1], dilations=[2, 2])], [], None, size=7)
save("avgpool_exclude_pad", [N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], [], None, size=9)
save("avgpool_include_pad_ceil", [N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1,
                                    ceil_mode=1)], [], None, size=10)
save("global_pool_gemm_softmax", [
    N("GlobalAveragePool", ["x"], ["g"]), N("Flatten", ["g"], ["f"]),
    N("Gemm", ["f", "w", "b"], ["z"], transB=1, alpha=0.5, beta=2.0), N("Softmax", ["z"], ["y"]),
], [weight("w", 5, 3), weight("b", 5)], None)
save("matmul_softmax_opset11", [
    N("Flatten", ["x"], ["f"], axis=1), N("MatMul", ["f", "w"], ["m"]), N("Add", ["m", "b"], ["z"]), N("Softmax", ["z"], ["y"], axis=1),
], [weight("w", 3 * 8 * 8, 4, scale=0.1), weight("b", 4)], None, opset=11)
save("reshape_dynamic", [N("Reshape", ["x", "shape"], ["r"]), N("Gemm", ["r", "w"], ["y"])],
     [ints("shape", [0, -1]), weight("w", 3 * 8 * 8, 2, scale=0.1)], None)
save("reshape_static_batch", [N("Reshape", ["x", "shape"], ["r"]), N("Gemm", ["r", "w"], ["y"])],
     [ints("shape", [1, 3 * 8 * 8]), weight("w", 3 * 8 * 8, 2, scale=0.1)], None, per_image=True,
     note="shape [1, 192] as a batch-1 export writes it; onnxruntime runs each image alone")
save("pad_constant", [N("Pad", ["x", "pads", "value"], ["y"], mode="constant")],
     [ints("pads", [0, 0, 1, 2, 0, 0, 2, 1]), scalar("value", 0.5)], None)
save("shape_arithmetic", [
    N("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]), N("Shape", ["t"], ["s"]),
    N("Slice", ["s", "zero", "one"], ["b"]), N("Cast", ["b"], ["bi"], to=7),
    N("Gather", ["s", "three"], ["g"], axis=0), N("Unsqueeze", ["g", "axes0"], ["u"]),
    N("Concat", ["bi", "u", "minus1", "one"], ["k"], axis=0), N("Reshape", ["t", "k"], ["r"]),
    N("Squeeze", ["r", "axes3"], ["y"]),
], [ints("zero", [0]), ints("one", [1]), numpy_helper.from_array(np.array(3, dtype=np.int64), "three"), ints("axes0", [0]),
    ints("minus1", [-1]), ints("axes3", [3])], None,
    note="Transpose, Shape, Slice, Cast, Gather, Unsqueeze, Concat, Reshape and Squeeze, as tf2onnx writes them around a Flatten")
save("constant_node", [N("Constant", [], ["k"], value=numpy_helper.from_array(np.full((1, 3, 1, 1), 0.5, np.float32), "k")),
                       N("Mul", ["x", "k"], ["y"])], [], None)

# A small classifier, as a screen would run it: conv, batch norm, ReLU, pooling, a dense head.
def classifier(name, classes, size=32):
    nodes = [
        N("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        N("BatchNormalization", ["c1", "g1", "be1", "m1", "v1"], ["n1"]), N("Relu", ["n1"], ["r1"]),
        N("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        N("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]), N("Relu", ["c2"], ["r2"]),
        N("GlobalAveragePool", ["r2"], ["g"]), N("Flatten", ["g"], ["f"]), N("Gemm", ["f", "wd", "bd"], ["z"], transB=1),
    ]
    nodes.append(N("Softmax", ["z"], ["y"], axis=-1) if classes > 1 else N("Sigmoid", ["z"], ["y"]))
    inits = [weight("w1", 8, 3, 3, 3), weight("b1", 8), weight("g1", 8), weight("be1", 8), weight("m1", 8),
             numpy_helper.from_array((rng.random(8) + 0.5).astype(np.float32), "v1"), weight("w2", 8, 8, 3, 3, scale=0.3), weight("b2", 8),
             weight("wd", classes, 8), weight("bd", classes)]
    save(name, nodes, inits, None, size=size)


classifier("classifier_sigmoid", 1)
classifier("classifier_softmax3", 3)


# Models HistoScreen must refuse, each for one reason (no outputs: they are never run).
def bad(name, nodes, initializers, opset=13, input_type=TensorProto.FLOAT, input_shape=("N", 3, 8, 8)):
    x = helper.make_tensor_value_info("x", input_type, list(input_shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [])
    model = helper.make_model(helper.make_graph(nodes, name, [x], [y], initializers), opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, out / f"bad_{name}.onnx")


bad("unsupported_op", [N("Tanh", ["x"], ["y"], name="tanh_1")], [])
bad("unsupported_attribute", [N("Conv", ["x", "w"], ["y"], name="conv_1", foo=3)], [weight("w", 2, 3, 3, 3)])
bad("opset10", [N("Relu", ["x"], ["y"])], [], opset=10)
bad("uint8_input", [N("Relu", ["x"], ["y"])], [], input_type=TensorProto.UINT8)
bad("int8_weight", [N("Mul", ["x", "k"], ["y"], name="mul_1")], [numpy_helper.from_array(np.ones((1,), np.int8), "k")])
bad("two_channels", [N("Relu", ["x"], ["y"])], [], input_shape=("N", 2, 8, 8))
bad("free_size", [N("Relu", ["x"], ["y"])], [], input_shape=("N", 3, "H", "W"))
bad("other_domain", [N("Relu", ["x"], ["y"], name="custom_1", domain="com.example")], [])
external = weight("w", 2, 3, 3, 3)
external.ClearField("raw_data")
external.data_location = TensorProto.EXTERNAL
external.external_data.add(key="location", value="weights.bin")
bad("external_data", [N("Conv", ["x", "w"], ["y"], name="conv_1")], [external])


# A 96-pixel classifier (no golden file of its own) and onnxruntime's probabilities for the 200
# real PCam patches of Tests/Fixtures/pcam-mini, normalised with the PCam statistics, for
# ImportCommandTests to compare `histoscreen evaluate` with.
def classifier96():
    global rng
    nodes = [
        N("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        N("BatchNormalization", ["c1", "g1", "be1", "m1", "v1"], ["n1"]), N("Relu", ["n1"], ["r1"]),
        N("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        N("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=2), N("Relu", ["c2"], ["r2"]),
        N("GlobalAveragePool", ["r2"], ["g"]), N("Flatten", ["g"], ["f"]), N("Gemm", ["f", "wd", "bd"], ["y"], transB=1),
    ]
    inits = [weight("w1", 8, 3, 3, 3), weight("b1", 8), weight("g1", 8), weight("be1", 8), weight("m1", 8),
             numpy_helper.from_array((rng.random(8) + 0.5).astype(np.float32), "v1"), weight("w2", 8, 4, 3, 3, scale=0.3), weight("b2", 8),
             weight("wd", 1, 8, scale=2.0), weight("bd", 1)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 96, 96])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    model = helper.make_model(helper.make_graph(nodes, "classifier96", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = out / "classifier_sigmoid96.onnx"
    onnx.save(model, path)
    import csv
    from PIL import Image
    mini = root / "Tests/Fixtures/pcam-mini"
    rows = list(csv.DictReader(open(mini / "labels.csv")))
    mean = np.array([0.6987186915950694, 0.5408117805113183, 0.691961109147494], np.float32)
    std = np.array([0.23824072632801963, 0.28072939639790395, 0.22115356326719351], np.float32)
    batch = np.stack([((np.asarray(Image.open(mini / r["path"]).convert("RGB"), np.float32) / 255 - mean) / std).transpose(2, 0, 1)
                      for r in rows]).astype(np.float32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"x": batch})[0][:, 0]
    probabilities = 1 / (1 + np.exp(-logits.astype(np.float64)))
    (out / "classifier_sigmoid96.pcam-mini.json").write_text(json.dumps(
        {"paths": [r["path"] for r in rows], "probabilities": [float(f"{p:.9g}") for p in probabilities]}) + "\n")
    print(f"classifier_sigmoid96: {len(rows)} pcam-mini probabilities, from {probabilities.min():.3f} to {probabilities.max():.3f}")


classifier96()


# A 9-class tissue-type classifier in the NCT-CRC-HE-100K convention (224 px at 0.5 µm/px;
# random weights, so its classes mean nothing) and onnxruntime's class probabilities for the
# nine real NCT patches in ../shared/data/nct-crc-he-samples, normalised with ImageNet's
# statistics, for MultiClassTests.
def nct9():
    classes = ["ADI", "BACK", "DEB", "LYM", "MUC", "MUS", "NORM", "STR", "TUM"]
    nodes = [
        N("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[4, 4]), N("Relu", ["c1"], ["r1"]),
        N("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        N("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]), N("Relu", ["c2"], ["r2"]),
        N("GlobalAveragePool", ["r2"], ["g"]), N("Flatten", ["g"], ["f"]), N("Gemm", ["f", "wd", "bd"], ["z"], transB=1),
        N("Softmax", ["z"], ["y"], axis=1),
    ]
    inits = [weight("w1", 16, 3, 3, 3), weight("b1", 16), weight("w2", 16, 16, 3, 3, scale=0.3), weight("b2", 16),
             weight("wd", 9, 16, scale=1.5), weight("bd", 9)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 224, 224])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 9])
    model = helper.make_model(helper.make_graph(nodes, "nct9", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = out / "nct9.onnx"
    onnx.save(model, path)
    import csv
    from PIL import Image
    samples = root.parent / "shared/data/nct-crc-he-samples"
    if not samples.exists():
        print("nct9: ../shared/data/nct-crc-he-samples is missing; probabilities not written")
        return
    rows = list(csv.DictReader(open(samples / "labels.csv")))
    column = "path" if "path" in rows[0] else list(rows[0].keys())[0]
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    batch = np.stack([((np.asarray(Image.open(samples / r[column]).convert("RGB"), np.float32) / 255 - mean) / std).transpose(2, 0, 1)
                      for r in rows]).astype(np.float32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probabilities = session.run(None, {"x": batch})[0]
    (out / "nct9.samples.json").write_text(json.dumps({
        "classes": classes, "files": [r[column] for r in rows], "labels": [r["label"] for r in rows],
        "probabilities": [[float(f"{v:.9g}") for v in row] for row in probabilities]}) + "\n")
    print(f"nct9: {len(rows)} NCT patches")


nct9()

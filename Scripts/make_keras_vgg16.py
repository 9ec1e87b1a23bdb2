#!/usr/bin/env python3
"""The seed project's model, a Keras VGG16 with its head (Flatten, Dense 256 ReLU, Dense 1
sigmoid) at 96 × 96, saved by tensorflow-cpu at seeded random initialisation and converted to
ONNX with tf2onnx (both from PyPI), with onnxruntime's probabilities on real PCam patches.

    python3 Scripts/make_keras_vgg16.py --out .data/keras

Writes vgg16-seed.keras, vgg16-seed.onnx (NCHW input, as HistoScreen imports it) and
vgg16-seed.reference.json (pixels scaled to 0–1, as the seed project fed them).
"""
import argparse
import csv
import json
import os

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "pcam-kaggle"))
    parser.add_argument("--count", type=int, default=256)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import tensorflow as tf
    import tf2onnx
    import onnxruntime
    from PIL import Image

    tf.keras.utils.set_random_seed(0)
    base = tf.keras.applications.VGG16(include_top=False, weights=None, input_shape=(96, 96, 3))
    x = tf.keras.layers.Flatten()(base.output)
    x = tf.keras.layers.Dense(256, activation="relu")(x)
    y = tf.keras.layers.Dense(1, activation="sigmoid")(x)
    model = tf.keras.Model(base.input, y)
    ids = sorted(r["id"] for r in csv.DictReader(open(os.path.join(args.data, "train_labels.csv"))))[:args.count]
    nhwc = np.stack([np.asarray(Image.open(os.path.join(args.data, "train", i + ".tif")).convert("RGB"), np.float32) / 255 for i in ids])
    # Random weights give near-constant outputs: scale the last layer so its logits over these
    # patches have mean 0 and standard deviation 1.
    last = model.layers[-1]
    logit_model = tf.keras.Model(model.input, model.layers[-2].output)
    h = logit_model.predict(nhwc, verbose=0).astype(np.float64)
    w, b = last.get_weights()
    z = h @ w.astype(np.float64) + b
    s = 1 / max(float(z.std()), 1e-12)
    last.set_weights([(w * s).astype(np.float32), ((b - z.mean()) * s).astype(np.float32)])
    model.save(os.path.join(args.out, "vgg16-seed.keras"))
    spec = (tf.TensorSpec((None, 96, 96, 3), tf.float32, name="input"),)
    onnx_path = os.path.join(args.out, "vgg16-seed.onnx")
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=13, inputs_as_nchw=["input"], output_path=onnx_path)
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    nchw = nhwc.transpose(0, 3, 1, 2).copy()
    p = np.concatenate([session.run(None, {session.get_inputs()[0].name: nchw[k:k + 32]})[0] for k in range(0, len(ids), 32)])[:, 0]
    keras_p = model.predict(nhwc, verbose=0)[:, 0]
    with open(os.path.join(args.out, "vgg16-seed.reference.json"), "w") as f:
        json.dump({"ids": ids, "probabilities": [[float(f"{1 - v:.9g}"), float(f"{v:.9g}")] for v in p]}, f)
    print(f"vgg16-seed: onnxruntime P {p.min():.3f}–{p.max():.3f}; |onnxruntime − Keras| max {np.abs(p - keras_p).max():.2e}")


if __name__ == "__main__":
    main()

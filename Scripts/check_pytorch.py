#!/usr/bin/python3
"""Loads a built-in HistoScreen bundle into an equivalent PyTorch module and checks its outputs.

Run with Debian's python3 (python3-torch); reads model.json and weights.safetensors directly:

    /usr/bin/python3 Scripts/check_pytorch.py Samples/models/histoscreen-pcam.hsmodel [--bin .build/release/histoscreen]

The weights are in HistoScreen's Keras layout (format "histoscreen-keras", docs/onnx.md): conv
kernels [KH, KW, Cin, Cout] become PyTorch's [Cout, Cin, KH, KW], dense kernels [in, out] become
[out, in], batch norm's gamma, beta, moving_mean and moving_variance become weight, bias,
running_mean and running_var, "same" padding becomes explicit (asymmetric) padding, and a Flatten
of an NHWC map is done in NHWC order. The module's probabilities on the PCam patches of
Tests/Fixtures/pcam-mini are compared with `histoscreen evaluate`'s.
"""
import argparse
import csv
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image


def safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"]).copy()
    return out


class Bundle(torch.nn.Module):
    """The bundle's layers, in NCHW, taking normalised NHWC patches."""

    def __init__(self, spec, w):
        super().__init__()
        h, width, c = spec["inputShape"]
        self.steps, _ = self.chain(spec["layers"], w, h, width, c)

    def chain(self, layers, w, h, width, c):
        """The layers as a list of steps; returns it and the output's (h, width, c)."""
        steps = []
        for layer in layers:
            kind, name = layer["type"], layer["name"]
            if kind == "conv2d":
                k, s = layer.get("kernel", 3), layer.get("stride", 1)
                pad = layer.get("padding", "same")
                if pad == "same":
                    def same(n):
                        out = (n + s - 1) // s
                        total = max((out - 1) * s + k - n, 0)
                        return total // 2, total - total // 2
                    (t, b), (l, r) = same(h), same(width)
                elif pad == "valid":
                    t = b = l = r = 0
                else:
                    t, b, l, r = pad
                conv = torch.nn.Conv2d(c, layer["units"], k, s, bias=layer.get("bias", True))
                conv.weight.data = torch.from_numpy(w[f"{name}.kernel"].transpose(3, 2, 0, 1).copy())
                if conv.bias is not None:
                    conv.bias.data = torch.from_numpy(w[f"{name}.bias"])
                self.add_module(name, conv)
                steps.append(lambda x, conv=conv, p=(l, r, t, b): conv(torch.nn.functional.pad(x, p)))
                h, width, c = (h + t + b - k) // s + 1, (width + l + r - k) // s + 1, layer["units"]
            elif kind == "batchnorm":
                bn = torch.nn.BatchNorm2d(c, eps=layer.get("epsilon", 1e-3))
                bn.weight.data, bn.bias.data = torch.from_numpy(w[f"{name}.gamma"]), torch.from_numpy(w[f"{name}.beta"])
                bn.running_mean.data, bn.running_var.data = torch.from_numpy(w[f"{name}.moving_mean"]), torch.from_numpy(w[f"{name}.moving_variance"])
                self.add_module(name, bn)
                steps.append(bn)
            elif kind == "relu":
                steps.append(torch.relu)
            elif kind == "maxpool":
                k, s = layer.get("kernel", 2), layer.get("stride", 2)
                steps.append(lambda x, k=k, s=s: torch.nn.functional.max_pool2d(x, k, s))
                h, width = (h - k) // s + 1, (width - k) // s + 1
            elif kind == "globalAveragePool":
                steps.append(lambda x: x.mean(dim=(2, 3)))
                h = width = None
            elif kind == "flatten":
                steps.append(lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x)
            elif kind == "dropout":
                continue
            elif kind == "dense":
                kernel = w[f"{name}.kernel"]
                linear = torch.nn.Linear(kernel.shape[0], kernel.shape[1], bias=layer.get("bias", True))
                linear.weight.data = torch.from_numpy(kernel.T.copy())
                if linear.bias is not None:
                    linear.bias.data = torch.from_numpy(w[f"{name}.bias"])
                self.add_module(name, linear)
                steps.append(linear)
            elif kind == "residual":
                # The branch's output plus the shortcut's (the identity when it has none).
                branch, shape = self.chain(layer["layers"], w, h, width, c)
                shortcut, _ = self.chain(layer.get("shortcut") or [], w, h, width, c)
                steps.append(lambda x, b=branch, s=shortcut: run(b, x) + run(s, x))
                (h, width, c) = shape
            else:
                raise SystemExit(f"layer type {kind} is not known to this script")
        return steps, (h, width, c)

    def forward(self, nhwc):
        return torch.sigmoid(run(self.steps, nhwc.permute(0, 3, 1, 2))[:, 0])


def run(steps, x):
    """x through the steps in turn."""
    for step in steps:
        x = step(x)
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--data", default="Tests/Fixtures/pcam-mini/labels.csv")
    parser.add_argument("--bin", default=".build/release/histoscreen")
    args = parser.parse_args()
    manifest = json.load(open(os.path.join(args.bundle, "model.json")))
    if "graph" in manifest:
        raise SystemExit(f"{args.bundle} is an imported graph; this script loads built-in networks")
    model = Bundle(manifest["architecture"], safetensors(os.path.join(args.bundle, "weights.safetensors"))).eval()
    mean = np.array(manifest["normalization"]["mean"], np.float32)
    std = np.array(manifest["normalization"]["std"], np.float32)
    folder = os.path.dirname(args.data)
    rows = list(csv.DictReader(open(args.data)))
    column = "path" if "path" in rows[0] else "id"
    x = np.stack([(np.asarray(Image.open(os.path.join(folder, r[column])).convert("RGB"), np.float32) / 255 - mean) / std for r in rows])
    with torch.no_grad():
        theirs = model(torch.from_numpy(x.astype(np.float32))).double().numpy()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.bin, "evaluate", args.bundle, args.data, "--out", tmp, "--quiet", "--resamples", "10"], check=True, stdout=subprocess.DEVNULL)
        ours = {r["id"]: float(r["probability"]) for r in csv.DictReader(open(os.path.join(tmp, "predictions.csv")))}
    difference = np.abs(np.array([ours[os.path.basename(r[column])] for r in rows]) - theirs)
    print(f"{args.bundle}: {len(rows)} patches; |histoscreen − PyTorch| max {difference.max():.2e}, median {np.median(difference):.2e}")
    return 0 if difference.max() <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())

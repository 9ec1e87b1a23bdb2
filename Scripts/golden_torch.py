#!/usr/bin/python3
"""Golden outputs for the engine's tests, from PyTorch (an independent engine).

Builds small CNNs from HistoScreen model specs, with weights in HistoScreen's layouts (NHWC
activations, HWIO conv kernels, [in, out] dense kernels), converts them to PyTorch's NCHW /
OIHW / [out, in], and records, in float64:
  - logits and the mean binary cross-entropy (with a positive-class weight) in training mode;
  - the gradients of the loss with respect to every parameter and to the input;
  - batch norm running statistics after that pass, and logits in inference mode;
  - the losses of 3 steps of SGD (momentum, weight decay), Adam and AdamW, and the weights after them.

Run with Debian's PyTorch (apt-get install python3-torch):
    /usr/bin/python3 Scripts/golden_torch.py
It writes Tests/Fixtures/golden/*.json.
"""
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "Tests/Fixtures/golden"


def same_padding(size, kernel, stride):
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def init_weights(spec, rng):
    """Weights in HistoScreen layouts, keyed as HistoScreen names them."""
    weights = {}
    walk(spec["layers"], list(spec["inputShape"]), weights, rng)
    return weights


def walk(layers, shape, weights, rng):
    """Adds the weights of a chain of layers on an input of `shape`; returns the output shape."""
    for layer in layers:
        t, name = layer["type"], layer["name"]
        if t == "conv2d":
            k, cout = layer["kernel"], layer["units"]
            weights[f"{name}.kernel"] = rng.normal(0, (2 / (k * k * shape[2])) ** 0.5, (k, k, shape[2], cout))
            if layer.get("bias", True):
                weights[f"{name}.bias"] = rng.normal(0, 0.1, (cout,))
            stride, pad = layer.get("stride", 1), layer.get("padding", "same")
            if pad == "same":
                (t0, b0), (l0, r0) = same_padding(shape[0], k, stride), same_padding(shape[1], k, stride)
            elif pad == "valid":
                t0 = b0 = l0 = r0 = 0
            else:
                t0, b0, l0, r0 = pad
            shape = [(shape[0] + t0 + b0 - k) // stride + 1, (shape[1] + l0 + r0 - k) // stride + 1, cout]
        elif t == "batchnorm":
            c = shape[-1]
            weights[f"{name}.gamma"] = rng.uniform(0.5, 1.5, (c,))
            weights[f"{name}.beta"] = rng.normal(0, 0.1, (c,))
            weights[f"{name}.moving_mean"] = rng.normal(0, 0.1, (c,))
            weights[f"{name}.moving_variance"] = rng.uniform(0.5, 1.5, (c,))
        elif t == "maxpool":
            size, stride = layer.get("kernel", 2), layer.get("stride", layer.get("kernel", 2))
            shape = [(shape[0] - size) // stride + 1, (shape[1] - size) // stride + 1, shape[2]]
        elif t == "globalAveragePool":
            shape = [shape[2]]
        elif t == "flatten":
            shape = [int(np.prod(shape))]
        elif t == "dense":
            units = layer["units"]
            weights[f"{name}.kernel"] = rng.normal(0, (2 / shape[0]) ** 0.5, (shape[0], units))
            if layer.get("bias", True):
                weights[f"{name}.bias"] = rng.normal(0, 0.1, (units,))
            shape = [units]
        elif t == "residual":
            branch = walk(layer["layers"], shape, weights, rng)
            shortcut = walk(layer.get("shortcut") or [], shape, weights, rng)
            assert branch == shortcut, (name, branch, shortcut)
            shape = branch
    return shape


def to_torch(name, array):
    t = torch.tensor(array)
    if name.endswith(".kernel") and t.dim() == 4:
        return t.permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
    if name.endswith(".kernel") and t.dim() == 2:
        return t.t().contiguous()  # [in, out] -> [out, in]
    return t


def from_torch(name, t):
    if name.endswith(".kernel") and t.dim() == 4:
        return t.permute(2, 3, 1, 0)
    if name.endswith(".kernel") and t.dim() == 2:
        return t.t()
    return t


def forward(spec, params, x_nhwc, training):
    """Runs the spec on an NHWC input; params holds PyTorch-layout tensors (some trainable)."""
    return run(spec["layers"], params, x_nhwc.permute(0, 3, 1, 2), training)  # NCHW


def run(layers, params, h, training):
    """Runs a chain of layers on an NCHW tensor."""
    for layer in layers:
        t, name = layer["type"], layer["name"]
        if t == "conv2d":
            k, stride, pad = layer["kernel"], layer.get("stride", 1), layer.get("padding", "same")
            if pad == "same":
                (t0, b0), (l0, r0) = same_padding(h.shape[2], k, stride), same_padding(h.shape[3], k, stride)
            elif pad == "valid":
                t0 = b0 = l0 = r0 = 0
            else:
                t0, b0, l0, r0 = pad
            h = F.conv2d(F.pad(h, (l0, r0, t0, b0)), params[f"{name}.kernel"], params.get(f"{name}.bias"), stride=stride)
        elif t == "batchnorm":
            # HistoScreen's momentum m (Keras convention) is PyTorch's 1 - m.
            h = F.batch_norm(h, params[f"{name}.moving_mean"], params[f"{name}.moving_variance"],
                             params[f"{name}.gamma"], params[f"{name}.beta"], training=training,
                             momentum=1 - layer.get("momentum", 0.99), eps=layer.get("epsilon", 1e-3))
        elif t == "relu":
            h = F.relu(h)
        elif t == "maxpool":
            size = layer.get("kernel", 2)
            h = F.max_pool2d(h, size, layer.get("stride", size))
        elif t == "globalAveragePool":
            h = h.mean(dim=(2, 3))
        elif t == "flatten":
            h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)  # NHWC order, as HistoScreen and Keras
        elif t == "dense":
            h = F.linear(h, params[f"{name}.kernel"], params.get(f"{name}.bias"))
        elif t == "residual":
            h = run(layer["layers"], params, h, training) + run(layer.get("shortcut") or [], params, h, training)
        else:
            raise ValueError(t)
    return h


def is_buffer(name):
    return name.endswith(".moving_mean") or name.endswith(".moving_variance")


def fresh_params(weights):
    params = {}
    for name, array in weights.items():
        t = to_torch(name, array)
        params[name] = t if is_buffer(name) else t.requires_grad_(True)
    return params


def bce(logits, labels, pos_weight):
    return F.binary_cross_entropy_with_logits(logits.reshape(-1), labels, pos_weight=torch.tensor(pos_weight))


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def ours(params):
    return {name: {"shape": list(from_torch(name, t).shape), "data": flat(from_torch(name, t).contiguous())}
            for name, t in params.items()}


def make(spec, batch, seed, pos_weight):
    rng = np.random.default_rng(seed)
    weights = init_weights(spec, rng)
    x = torch.tensor(rng.uniform(-1, 1, [batch] + spec["inputShape"]), requires_grad=True)
    labels = torch.tensor(rng.integers(0, 2, batch).astype(np.float64))

    params = fresh_params(weights)
    logits = forward(spec, params, x, training=True)
    loss = bce(logits, labels, pos_weight)
    loss.backward()
    gradients = {n: {"shape": list(from_torch(n, p).shape), "data": flat(from_torch(n, p.grad).contiguous())}
                 for n, p in params.items() if not is_buffer(n)}
    buffers_after = {n: flat(p) for n, p in params.items() if is_buffer(n)}
    with torch.no_grad():
        inference_logits = forward(spec, params, x, training=False)

    optimizers = {
        "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-4),
                {"sgd": {"momentum": 0.9, "weightDecay": 1e-4}}, 0.05),
        "adam": (lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4),
                 {"adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weightDecay": 1e-4}}, 0.01),
        "adamW": (lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2),
                  {"adamW": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weightDecay": 1e-2}}, 0.01),
    }
    steps = {}
    for key, (make_opt, kind, lr) in optimizers.items():
        p = fresh_params(weights)
        opt = make_opt([t for n, t in p.items() if not is_buffer(n)])
        losses = []
        for _ in range(3):
            opt.zero_grad()
            l = bce(forward(spec, p, x.detach(), training=True), labels, pos_weight)
            losses.append(float(l))
            l.backward()
            opt.step()
        steps[key] = {"kind": kind, "learningRate": lr, "losses": losses, "weightsAfter": ours(p)}

    return {
        "spec": spec,
        "torchVersion": torch.__version__,
        "weights": {n: {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]} for n, a in weights.items()},
        "input": {"shape": list(x.shape), "data": flat(x)},
        "labels": flat(labels),
        "positiveWeight": pos_weight,
        "trainingLogits": flat(logits),
        "loss": float(loss),
        "gradients": gradients,
        "inputGradient": flat(x.grad),
        "buffersAfterTraining": buffers_after,
        "inferenceLogits": flat(inference_logits),
        "steps": steps,
    }


FLATTEN_NET = {
    "name": "golden-flatten", "inputShape": [10, 10, 3],
    "layers": [
        {"type": "conv2d", "name": "c1", "units": 4, "kernel": 3, "stride": 1, "padding": "same", "bias": True},
        {"type": "batchnorm", "name": "bn1", "epsilon": 1e-3, "momentum": 0.99},
        {"type": "relu", "name": "r1"},
        {"type": "maxpool", "name": "p1", "kernel": 2, "stride": 2},
        {"type": "conv2d", "name": "c2", "units": 5, "kernel": 3, "stride": 2, "padding": [1, 1, 1, 1], "bias": False},
        {"type": "relu", "name": "r2"},
        {"type": "flatten", "name": "flatten"},
        {"type": "dense", "name": "d1", "units": 6, "bias": True},
        {"type": "relu", "name": "r3"},
        {"type": "dense", "name": "logit", "units": 1, "bias": True},
    ],
}

COMPACT_LIKE = {
    "name": "golden-compact", "inputShape": [12, 12, 3],
    "layers": [
        {"type": "conv2d", "name": "block1_conv1", "units": 4, "kernel": 3, "padding": "same", "bias": False},
        {"type": "batchnorm", "name": "block1_bn1", "epsilon": 1e-3, "momentum": 0.9},
        {"type": "relu", "name": "block1_relu1"},
        {"type": "conv2d", "name": "block1_conv2", "units": 4, "kernel": 3, "padding": "same", "bias": False},
        {"type": "batchnorm", "name": "block1_bn2", "epsilon": 1e-3, "momentum": 0.9},
        {"type": "relu", "name": "block1_relu2"},
        {"type": "maxpool", "name": "block1_pool", "kernel": 2, "stride": 2},
        {"type": "conv2d", "name": "block2_conv1", "units": 8, "kernel": 3, "stride": 2, "padding": "same", "bias": False},
        {"type": "batchnorm", "name": "block2_bn1", "epsilon": 1e-3, "momentum": 0.9},
        {"type": "relu", "name": "block2_relu1"},
        {"type": "globalAveragePool", "name": "gap"},
        {"type": "dense", "name": "logit", "units": 1, "bias": True},
    ],
}

def conv_bn(name, units, kernel=3):
    return [{"type": "conv2d", "name": f"{name}_conv", "units": units, "kernel": kernel, "padding": "same", "bias": False},
            {"type": "batchnorm", "name": f"{name}_bn", "epsilon": 1e-3, "momentum": 0.9}]


# Two ResNet basic blocks: one with an identity shortcut, one with a 1x1 projection.
RESIDUAL = {
    "name": "golden-residual", "inputShape": [8, 8, 3],
    "layers": conv_bn("stem", 4) + [
        {"type": "relu", "name": "stem_relu"},
        {"type": "residual", "name": "b1",
         "layers": conv_bn("b1a", 4) + [{"type": "relu", "name": "b1a_relu"}] + conv_bn("b1b", 4)},
        {"type": "relu", "name": "b1_relu"},
        {"type": "maxpool", "name": "pool", "kernel": 2, "stride": 2},
        {"type": "residual", "name": "b2",
         "layers": conv_bn("b2a", 6) + [{"type": "relu", "name": "b2a_relu"}] + conv_bn("b2b", 6),
         "shortcut": conv_bn("b2p", 6, kernel=1)},
        {"type": "relu", "name": "b2_relu"},
        {"type": "globalAveragePool", "name": "gap"},
        {"type": "dense", "name": "logit", "units": 1, "bias": True},
    ],
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for spec, batch, seed, pw in [(FLATTEN_NET, 3, 1, 1.0), (COMPACT_LIKE, 4, 2, 1.7), (RESIDUAL, 4, 3, 1.3)]:
        fixture = make(spec, batch, seed, pw)
        path = OUT / f"{spec['name']}.json"
        path.write_text(json.dumps(fixture, indent=None, separators=(",", ":")) + "\n")
        print(f"wrote {path.relative_to(OUT.parent.parent.parent)}: loss {fixture['loss']:.6f}")

"""The benchmark's workloads: data, model, GEMM FLOPs, and the spec nncli trains.

Every framework trains the same data (written once to an .npz by the parent
process), the same layer sizes, loss, optimizer and batch size, in float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Workload:
    key: str  # W1 ... W5
    title: str
    kind: str  # mlp | cnn | lstm
    input_shape: tuple[int, ...]
    layers: list[dict]  # nncli layer configs (Keras names)
    loss: str  # binary_crossentropy | sparse_categorical_crossentropy | mse
    optimizer: str  # rmsprop | adam
    batch_size: int
    n_samples: int
    repeats: int  # timed epochs per framework (after one warm-up epoch)
    needs: tuple[str, ...] = ()  # nncli layer types that must be registered
    units: list[int] = field(default_factory=list)  # MLP widths, input first

    @property
    def steps(self) -> int:
        return -(-self.n_samples // self.batch_size)

    @property
    def metric(self) -> str | None:
        return None if self.loss == "mse" else "accuracy"


def _mlp(widths: list[int], out_act: str) -> list[dict]:
    acts = ["relu"] * (len(widths) - 2) + [out_act]
    return [
        {"type": "dense", "units": u, "activation": a} for u, a in zip(widths[1:], acts)
    ]


WORKLOADS = [
    Workload(
        "W1",
        "seed: moons 1,000, Dense 2-3-4-2-1, RMSprop, batch 8",
        "mlp",
        (2,),
        _mlp([2, 3, 4, 2, 1], "sigmoid"),
        "binary_crossentropy",
        "rmsprop",
        8,
        1000,
        15,
        units=[2, 3, 4, 2, 1],
    ),
    Workload(
        "W2",
        "breast cancer 569, Dense 30-64-32-1, Adam, batch 32",
        "mlp",
        (30,),
        _mlp([30, 64, 32, 1], "sigmoid"),
        "binary_crossentropy",
        "adam",
        32,
        569,
        15,
        units=[30, 64, 32, 1],
    ),
    Workload(
        "W3",
        "wide MLP 20,000, Dense 784-512-512-10 softmax, Adam, batch 128",
        "mlp",
        (784,),
        _mlp([784, 512, 512, 10], "softmax"),
        "sparse_categorical_crossentropy",
        "adam",
        128,
        20_000,
        5,
        units=[784, 512, 512, 10],
    ),
    Workload(
        "W4",
        "CNN 5,000 28x28x1, Conv(32,3)-Pool-Conv(64,3)-Pool-Dense(10), Adam, batch 64",
        "cnn",
        (28, 28, 1),
        [
            {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
            {"type": "max_pooling2d", "pool_size": 2},
            {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
            {"type": "max_pooling2d", "pool_size": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ],
        "sparse_categorical_crossentropy",
        "adam",
        64,
        5000,
        5,
        needs=("conv2d", "max_pooling2d", "flatten"),
    ),
    Workload(
        "W5",
        "LSTM(64) 5,000 x 50 steps x 8 features, Dense(1), MSE, Adam, batch 64",
        "lstm",
        (50, 8),
        [{"type": "lstm", "units": 64}, {"type": "dense", "units": 1}],
        "mse",
        "adam",
        64,
        5000,
        5,
        needs=("lstm",),
    ),
]


def gemm_flops_per_sample(w: Workload) -> float:
    """Forward GEMM FLOPs of one sample times 3 (forward, dW, dx).

    The usual convention: backward costs twice the forward (one GEMM for the
    weight gradient, one for the input gradient). Elementwise work, pooling
    and the first layer's skipped input gradient are left out.
    """
    if w.kind == "mlp":
        fwd = sum(2 * a * b for a, b in zip(w.units[:-1], w.units[1:]))
    elif w.kind == "cnn":
        h, wd, c = w.input_shape
        fwd = 0
        for layer in w.layers:
            if layer["type"] == "conv2d":
                k, f = layer["kernel_size"], layer["filters"]
                h, wd = h - k + 1, wd - k + 1
                fwd += 2 * h * wd * k * k * c * f
                c = f
            elif layer["type"] == "max_pooling2d":
                h, wd = h // 2, wd // 2
            elif layer["type"] == "dense":
                fwd += 2 * h * wd * c * layer["units"]
    else:  # lstm: four gates from [x_t, h_{t-1}] each step, then the head
        steps, n_in = w.input_shape
        units = w.layers[0]["units"]
        fwd = steps * 2 * (n_in + units) * 4 * units + 2 * units
    return 3.0 * fwd


def make_data(w: Workload, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(x float32, y) for a workload: y float32 (n, 1) or int64 (n,) class ids."""
    rng = np.random.default_rng(0)
    if w.key == "W1":
        from nncli.data.datasets import datasets

        x, y, _ = datasets.create(
            {"type": "moons", "n_samples": n_samples, "noise": 0.2}
        ).load(0)
        return x.astype(np.float32), y.astype(np.float32).reshape(-1, 1)
    if w.key == "W2":
        from nncli.data.datasets import datasets

        x, y, _ = datasets.create("breast_cancer").load(0)
        x = (x - x.mean(axis=0)) / x.std(axis=0)  # standardised, as the spec does
        x, y = x[:n_samples], y[:n_samples]
        return x.astype(np.float32), y.astype(np.float32).reshape(-1, 1)
    if w.key == "W5":  # a smooth target the LSTM can learn: a decayed sum
        x = rng.normal(size=(n_samples, *w.input_shape)).astype(np.float32)
        decay = 0.9 ** np.arange(w.input_shape[0])[::-1]  # (steps,)
        y = (x[:, :, 0] * decay).sum(axis=1) / 4 + 0.1 * x[:, -1, 1]
        return x, y.astype(np.float32).reshape(-1, 1)
    # W3, W4: classes from a fixed random linear teacher, so the loss can fall
    x = rng.normal(size=(n_samples, *w.input_shape)).astype(np.float32)
    teacher = rng.normal(size=(int(np.prod(w.input_shape)), 10))
    y = np.argmax(x.reshape(n_samples, -1) @ teacher, axis=1).astype(np.int64)
    return x, y


def nncli_spec(w: Workload) -> str:
    """A YAML spec of the workload for nncli (the data are passed separately)."""
    import json

    body = {
        "name": w.key.lower(),
        "seed": 0,
        "data": {"dataset": "moons"},  # not loaded: the bench gives the arrays
        "model": {"input_shape": list(w.input_shape), "layers": w.layers},
        "optimizer": w.optimizer,
        "loss": w.loss,
        "metrics": [w.metric] if w.metric else [],
        "epochs": 1,
        "batch_size": w.batch_size,
    }
    return json.dumps(body, indent=1)  # JSON is YAML


def write_spec(w: Workload, folder: Path) -> Path:
    path = folder / f"{w.key.lower()}.yaml"
    path.write_text(nncli_spec(w))
    return path

"""One trainer per framework: build a workload's model, then train one epoch a call.

Each trainer's `epoch()` runs one shuffled pass over the data in minibatches
and returns (mean training loss, accuracy or None), as each framework's own
idiomatic loop computes them:
- nncli: the real training loop (`train_epochs`) on the model a spec builds;
- numpy: a plain hand-written NumPy MLP loop (the floor for per-step overhead);
- torch: the usual manual loop (randperm, index, zero_grad/backward/step),
  logits with BCEWithLogitsLoss / CrossEntropyLoss, channels-first images;
- keras: `model.fit(..., epochs=1)` on the JAX backend (jit-compiled step).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
from workloads import Workload, write_spec

FRAMEWORKS = ("nncli", "numpy", "torch", "keras")


def available(framework: str, w: Workload) -> str | None:
    """None if `framework` can train `w`, else the reason it cannot."""
    if framework == "numpy" and w.kind != "mlp":
        return "the hand-written loop covers dense layers only"
    if framework == "nncli" and w.needs:
        import nncli.engine  # noqa: F401
        from nncli.engine.layers import layers

        missing = [t for t in w.needs if t not in layers]
        if missing:
            return f"layer {', '.join(missing)} not registered in nncli yet"
    return None


def make_trainer(framework: str, w: Workload, x: np.ndarray, y: np.ndarray):
    return {
        "nncli": NncliTrainer,
        "numpy": NumpyTrainer,
        "torch": TorchTrainer,
        "keras": KerasTrainer,
    }[framework](w, x, y)


class NncliTrainer:
    def __init__(self, w: Workload, x: np.ndarray, y: np.ndarray) -> None:
        from nncli.data.batches import Batches
        from nncli.train.loop import train_epochs
        from nncli.train.session import prepare

        self.train_epochs = train_epochs
        with tempfile.TemporaryDirectory() as tmp:
            self.session = prepare(write_spec(w, Path(tmp)), load_data=False)
        # the loaders hand the loop float64 features, as `nncli train` does
        x64 = x.astype(np.float64)
        y = y.astype(np.float64) if y.dtype.kind == "f" else y
        rng = np.random.default_rng(0)
        self.batches = Batches(x64, y, w.batch_size, self.session.backend, True, rng)
        self.done = 0

    def epoch(self) -> tuple[float, float | None]:
        s = self.session
        events = self.train_epochs(
            s.model, self.batches, None, s.make_metrics, self.done + 1, self.done
        )
        for event in events:
            pass
        self.done += 1
        logs = event.logs
        return logs["loss"], logs.get("accuracy")


class NumpyTrainer:
    """A plain NumPy MLP step: relu hidden layers, sigmoid or softmax output,
    its cross-entropy from logits, RMSprop or Adam updated in place."""

    def __init__(self, w: Workload, x: np.ndarray, y: np.ndarray) -> None:
        rng = np.random.default_rng(0)
        self.x, self.y, self.bs = x, y, w.batch_size
        self.softmax = w.loss.startswith("sparse")
        self.params = []
        for a, b in zip(w.units[:-1], w.units[1:]):
            lim = math.sqrt(6 / (a + b))
            W = rng.uniform(-lim, lim, size=(a, b)).astype(np.float32)
            self.params += [W, np.zeros(b, np.float32)]
        self.s1 = [np.zeros_like(p) for p in self.params]
        self.s2 = [np.zeros_like(p) for p in self.params]
        self.adam, self.t, self.rng = w.optimizer == "adam", 0, rng

    def step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        p, n = self.params, len(x)
        acts = [x]
        for i in range(0, len(p) - 2, 2):
            acts.append(np.maximum(acts[-1] @ p[i] + p[i + 1], 0))
        z = acts[-1] @ p[-2] + p[-1]  # logits (n, out)
        if self.softmax:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            prob = e / e.sum(axis=1, keepdims=True)
            loss = -np.log(prob[np.arange(n), y] + 1e-7).mean()
            dz = prob
            dz[np.arange(n), y] -= 1
            correct = int((z.argmax(axis=1) == y).sum())
        else:
            prob = 1 / (1 + np.exp(-z))
            loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
            dz = prob - y
            correct = int(((z > 0) == (y > 0.5)).sum())
        dz /= n
        grads = [None] * len(p)
        for i in range(len(p) - 2, -1, -2):
            grads[i], grads[i + 1] = acts[i // 2].T @ dz, dz.sum(axis=0)
            if i:
                dz = (dz @ p[i].T) * (acts[i // 2] > 0)
        self.update(grads)
        return float(loss), correct

    def update(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        if self.adam:
            lr = 1e-3 * math.sqrt(1 - 0.999**self.t) / (1 - 0.9**self.t)
            for w, g, m, v in zip(self.params, grads, self.s1, self.s2):
                m += 0.1 * (g - m)
                v += 0.001 * (g * g - v)
                w -= lr * m / (np.sqrt(v) + 1e-7)
        else:
            for w, g, a in zip(self.params, grads, self.s1):
                a *= 0.9
                a += 0.1 * g * g
                w -= 1e-3 * g / np.sqrt(a + 1e-7)

    def epoch(self) -> tuple[float, float | None]:
        order = self.rng.permutation(len(self.x))
        total, correct = 0.0, 0
        for start in range(0, len(order), self.bs):
            idx = order[start : start + self.bs]
            loss, c = self.step(self.x[idx], self.y[idx])
            total, correct = total + loss * len(idx), correct + c
        return total / len(order), correct / len(order)


class TorchTrainer:
    def __init__(self, w: Workload, x: np.ndarray, y: np.ndarray) -> None:
        import torch
        from torch import nn

        torch.manual_seed(0)
        self.torch, self.bs, self.metric = torch, w.batch_size, w.metric
        if w.kind == "mlp":
            mods = []
            for i, (a, b) in enumerate(zip(w.units[:-1], w.units[1:])):
                mods.append(nn.Linear(a, b))
                if i < len(w.units) - 2:
                    mods.append(nn.ReLU())
            self.net = nn.Sequential(*mods)
        elif w.kind == "cnn":
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # NCHW, torch's layout
            self.net = nn.Sequential(
                nn.Conv2d(1, 32, 3),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(5 * 5 * 64, 10),
            )
        else:
            self.net = _TorchLSTM(w.input_shape[1], w.layers[0]["units"])
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        params = self.net.parameters()
        if w.optimizer == "adam":
            self.opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
        else:
            self.opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)
        self.loss_fn = {
            "binary_crossentropy": nn.BCEWithLogitsLoss(),
            "sparse_categorical_crossentropy": nn.CrossEntropyLoss(),
            "mse": nn.MSELoss(),
        }[w.loss]
        self.binary = w.loss == "binary_crossentropy"

    def epoch(self) -> tuple[float, float | None]:
        torch = self.torch
        n = len(self.x)
        order = torch.randperm(n)
        total = torch.zeros(())
        correct = torch.zeros((), dtype=torch.int64)
        for start in range(0, n, self.bs):
            idx = order[start : start + self.bs]
            xb, yb = self.x[idx], self.y[idx]
            self.opt.zero_grad()
            out = self.net(xb)
            loss = self.loss_fn(out, yb)
            loss.backward()
            self.opt.step()
            with torch.no_grad():
                total += loss.detach() * len(idx)
                if self.metric:
                    pred = (out > 0).float() if self.binary else out.argmax(dim=1)
                    correct += (pred == yb).sum()
        acc = float(correct) / n if self.metric else None
        return float(total) / n, acc


def _TorchLSTM(n_in: int, units: int):
    from torch import nn

    class LSTMHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(n_in, units, batch_first=True)
            self.head = nn.Linear(units, 1)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    return LSTMHead()


class KerasTrainer:
    def __init__(self, w: Workload, x: np.ndarray, y: np.ndarray) -> None:
        import keras

        keras.utils.set_random_seed(0)
        layers = [keras.Input(w.input_shape)]
        for cfg in w.layers:
            cfg = dict(cfg)
            kind = cfg.pop("type")
            cls = {
                "dense": keras.layers.Dense,
                "conv2d": keras.layers.Conv2D,
                "max_pooling2d": keras.layers.MaxPooling2D,
                "flatten": keras.layers.Flatten,
                "lstm": keras.layers.LSTM,
            }[kind]
            layers.append(cls(**cfg))
        self.model = keras.Sequential(layers)
        self.model.compile(
            optimizer=w.optimizer,
            loss=w.loss,
            metrics=[w.metric] if w.metric else [],
        )
        self.x, self.y, self.bs, self.metric = x, y, w.batch_size, w.metric

    def epoch(self) -> tuple[float, float | None]:
        h = self.model.fit(
            self.x, self.y, batch_size=self.bs, epochs=1, shuffle=True, verbose=0
        ).history
        return h["loss"][-1], h[self.metric][-1] if self.metric else None

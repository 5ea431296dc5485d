"""Sequential network and Model (network + loss + optimizer) — the engine's API.

`Model.train_step` and `Model.evaluate_step` are what a training loop drives;
nothing here prints, keeps global state or touches files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nncli.engine.backend import Backend
from nncli.engine.layers import Layer, layers, pack_parameters
from nncli.engine.losses import Loss
from nncli.engine.optimizers import Optimizer

Shape = tuple[int, ...]


class LayerBuildError(ValueError):
    """A layer could not be built; `index` says which."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


# Layers that keep the time steps one to one, so a padding mask passes through
# them unchanged (Keras's supports_masking without a compute_mask of their own).
MASK_THROUGH = frozenset(
    {"dense", "dropout", "activation", "layer_normalization", "gaussian_noise"}
)


def mask_flow(layer_list: list[Layer]) -> list[int | None]:
    """Per layer, the index of the embedding whose padding mask reaches it, or None.

    An embedding with mask_zero starts a mask; layers in MASK_THROUGH pass it
    on; a recurrent layer (`takes_mask`) uses it and passes it on only with
    return_sequences, as Keras does. A mask reaching any other layer, or the
    output, is a LayerBuildError: the padding would silently be read as data.
    """
    flow: list[int | None] = []
    source = None
    for i, layer in enumerate(layer_list):
        kind = layer.get_config()["type"]
        takes = getattr(layer, "takes_mask", False)
        if source is not None and not takes and kind not in MASK_THROUGH:
            raise LayerBuildError(
                i,
                f"{kind} cannot use the padding mask of layer {source} (embedding "
                "with mask_zero: true); between such an embedding and the recurrent "
                f"layer that reads it only {', '.join(sorted(MASK_THROUGH))} may "
                "stand (or set mask_zero: false)",
            )
        flow.append(source)
        if getattr(layer, "mask_zero", False):
            source = i
        elif takes and not layer.return_sequences:
            source = None
    if source is not None:
        raise LayerBuildError(
            len(layer_list) - 1,
            f"the padding mask of layer {source} (embedding with mask_zero: true) "
            "reaches the model output; end with a recurrent layer without "
            "return_sequences (or set mask_zero: false)",
        )
    return flow


class Sequential:
    """Layers applied in order; parameters named `layers.<i>.<param>` like Keras."""

    def __init__(self, layer_list: list[Layer]) -> None:
        self.layers = layer_list
        self.shapes: list[Shape] = []  # output shape of each layer, batch axis excluded
        self.masks: list[int | None] = []  # which embedding's padding mask reaches it

    @classmethod
    def from_config(cls, layer_cfgs: list[dict]) -> Sequential:
        return cls([layers.create(cfg) for cfg in layer_cfgs])

    def build(
        self, input_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        """Build every layer in order; a failure names the layer (LayerBuildError)."""
        self.backend = backend
        shape = tuple(input_shape)
        self.shapes = []
        for i, layer in enumerate(self.layers):
            try:
                with np.errstate(
                    over="ignore", invalid="ignore"
                ):  # see initial_problems
                    out = tuple(layer.build(shape, backend, rng))
            except (ValueError, MemoryError) as e:
                reason = (
                    "not enough memory for its weights"
                    if isinstance(e, MemoryError)
                    else str(e)
                )
                raise LayerBuildError(i, f"{reason} (input shape {list(shape)})") from e
            self.shapes.append(out)
            shape = out
        self.masks = mask_flow(self.layers)
        pack_parameters(self.layers)  # one flat buffer: one optimizer update
        return shape

    def initial_problems(self) -> list[tuple[int, str]]:
        """(layer index, parameter) pairs whose values are not finite in the dtype."""
        return [
            (i, name)
            for i, layer in enumerate(self.layers)
            for name, p in {**layer.params, **getattr(layer, "state", {})}.items()
            if not np.isfinite(self.backend.to_numpy(p)).all()
        ]

    def forward(self, x: Any, training: bool = False) -> tuple[Any, list[Any]]:
        caches = []
        masks: dict[int, Any] = {}  # embedding index -> its padding mask (B, T)
        for i, layer in enumerate(self.layers):
            source = self.masks[i] if self.masks else None
            if source is not None and getattr(layer, "takes_mask", False):
                y, cache = layer.forward(x, training=training, mask=masks[source])
            else:
                y, cache = layer.forward(x, training=training)
            if getattr(layer, "mask_zero", False):
                masks[i] = layer.mask_of(x)
            x = y
            caches.append(cache)
        return x, caches

    def backward(
        self,
        dy: Any,
        caches: list[Any],
        from_logits: bool = False,
        extra: Mapping[int, Any] | None = None,
    ) -> Any:
        """Backprop `dy` and fill every layer's grads; returns None (no input gradient).

        With `from_logits`, dy is d/d(pre-activation) of the last layer.
        `extra[i]` is added to the gradient of layer i's output (the activity
        penalties' gradients); for a from-logits last layer it goes through
        that layer's activation first.
        """
        extra = extra or {}
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            layer, g = self.layers[i], extra.get(i)
            if i == last and from_logits:
                if g is not None:
                    c = caches[i]
                    dy = dy + layer.activation.backward(g, c.z, c.y)
                dy = layer.backward_from_logits(dy, caches[i], need_dx=i > 0)
            else:
                dy = dy if g is None else dy + g
                dy = layer.backward(dy, caches[i], need_dx=i > 0)
        return dy

    def params(self) -> dict[str, Any]:
        """Trainable parameters by Keras-style name (what the optimizer updates)."""
        return {
            f"layers.{i}.{name}": p
            for i, layer in enumerate(self.layers)
            for name, p in layer.params.items()
        }

    def states(self) -> dict[str, Any]:
        """Non-trainable state by name (BatchNormalization's moving statistics).

        A layer keeps it in a `state` dict; layers update it themselves in a
        training forward pass. It is saved and loaded with the weights and
        checkpoints, but never seen by the optimizer or the regularizers.
        """
        return {
            f"layers.{i}.{name}": s
            for i, layer in enumerate(self.layers)
            for name, s in getattr(layer, "state", {}).items()
        }

    def grads(self) -> dict[str, Any]:
        return {
            f"layers.{i}.{name}": g
            for i, layer in enumerate(self.layers)
            for name, g in layer.grads.items()
        }

    def regularization(self, with_grads: bool = False) -> Any:
        """Sum of weight penalties; with `with_grads`, also add their gradients."""
        total = 0.0
        for layer in self.layers:
            for name, reg in layer.regularizers.items():
                w = layer.params[name]
                total = total + reg.penalty(w)
                if with_grads:
                    layer.grads[name] += reg.grad(w)
        return total

    def activity_regularization(
        self, caches: list[Any], with_grads: bool = False
    ) -> tuple[Any, dict[int, Any]]:
        """Activity penalties of the last forward pass, and their output gradients.

        Keras 3 (`Layer.__call__`) adds regularizer(y) / batch_size for each
        layer output y, batch_size = y.shape[0]; the gradient of layer i's
        output is then regularizer.grad(y) / batch_size (the dict, by index,
        filled only `with_grads`, for `backward`'s `extra`).
        """
        total, grads = 0.0, {}
        for i, layer in enumerate(self.layers):
            reg = layer.activity_regularizer
            if reg is None:
                continue
            y = caches[i].y  # (batch, ..., units)
            total = total + reg.penalty(y) / y.shape[0]
            if with_grads:
                grads[i] = reg.grad(y) / y.shape[0]
        return total, grads

    def sample_activity(self, caches: list[Any]) -> Any:
        """Each sample's activity penalty, (batch,), or None when there is none.

        Their mean over a batch is `activity_regularization`'s penalty, so a
        sample-weighted mean over batches gives what Keras reports.
        """
        total = None
        for i, layer in enumerate(self.layers):
            reg = layer.activity_regularizer
            if reg is not None:
                y = caches[i].y  # (batch, ..., units)
                per_sample = reg.penalty(y, axis=tuple(range(1, y.ndim)))  # (batch,)
                total = per_sample if total is None else total + per_sample
        return total

    def apply_constraints(self) -> None:
        """Project constrained parameters in place (after an optimizer step)."""
        for layer in self.layers:
            for name, constraint in layer.constraints.items():
                p = layer.params[name]
                p[...] = constraint(p)

    def get_weights(self) -> dict[str, np.ndarray]:
        """Host copies of every parameter and state array, keyed by Keras-style name.

        Always copies (numpy's to_numpy would return the live array), so later
        updates never change a snapshot.
        """
        own = {**self.params(), **self.states()}
        return {k: np.array(self.backend.to_numpy(v)) for k, v in own.items()}

    def set_weights(
        self, weights: Mapping[str, np.ndarray], source: str = "weights"
    ) -> None:
        """Load weights (and state) by name; any missing, extra or mis-shaped name
        is a ValueError."""
        own = {**self.params(), **self.states()}
        missing = sorted(set(own) - set(weights))
        extra = sorted(set(weights) - set(own))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected {', '.join(extra)}")
            raise ValueError(f"{source} does not match the model: {'; '.join(parts)}")
        for k, v in own.items():
            if tuple(weights[k].shape) != tuple(v.shape):
                raise ValueError(
                    f"{source}: {k} has shape {tuple(weights[k].shape)}, "
                    f"the model needs {tuple(v.shape)}"
                )
        for k, v in own.items():
            v[...] = self.backend.asarray(weights[k], dtype=v.dtype)

    def count_params(self) -> list[int]:
        """Numbers per layer, trainable and non-trainable, as Keras counts them."""
        return [
            sum(int(np.prod(p.shape)) for p in layer.params.values())
            + sum(int(np.prod(s.shape)) for s in getattr(layer, "state", {}).values())
            for layer in self.layers
        ]

    def count_non_trainable(self) -> list[int]:
        """Numbers per layer that training does not update (moving statistics)."""
        return [
            sum(int(np.prod(s.shape)) for s in getattr(layer, "state", {}).values())
            for layer in self.layers
        ]


class Model:
    """A network compiled with a loss (and optionally an optimizer).

    When the loss can absorb the network's final activation (sigmoid with
    binary cross-entropy, softmax with categorical ones) and is not already
    `from_logits`, the loss is computed from the pre-activation: the stable
    path Keras takes on TensorFlow, so saturated outputs never give NaN/inf.
    """

    def __init__(
        self, network: Sequential, loss: Loss, optimizer: Optimizer | None = None
    ):
        self.network, self.loss, self.optimizer = network, loss, optimizer
        last = network.layers[-1]
        name = getattr(last, "activation_name", None)
        self.fused = (
            not loss.from_logits
            and loss.fuses_with is not None
            and name == loss.fuses_with
        )
        self._loss = loss.with_logits() if self.fused else loss
        # do predictions come out as logits (for thresholds in metrics)?
        self.outputs_logits = loss.from_logits and name == "linear"

    def _loss_input(self, y: Any, caches: list[Any]) -> Any:
        return caches[-1].z if self.fused else y

    def compute_gradients(
        self, x: Any, target: Any, weights: Any = None
    ) -> tuple[Any, Any]:
        """Fill every grad of the training loss; returns (that loss, predictions).

        The loss is Keras's training loss: the data loss, plus the activity
        penalties (each divided by the batch size), plus the weight penalties.
        """
        net = self.network
        y, caches = net.forward(x, training=True)
        value, cache = self._loss.forward(self._loss_input(y, caches), target, weights)
        activity, activity_grads = net.activity_regularization(caches, True)
        net.backward(
            self._loss.backward(cache),
            caches,
            from_logits=self.fused,
            extra=activity_grads,
        )
        value = value + activity + net.regularization(with_grads=True)
        return value, y

    def train_step(self, x: Any, target: Any, weights: Any = None) -> tuple[Any, Any]:
        """One update; returns (loss before the update incl. penalties, predictions).

        Constraints project the weights after the step, as Keras's optimizer does.
        """
        value, y = self.compute_gradients(x, target, weights)
        self.optimizer.step(self.network.params(), self.network.grads())
        self.network.apply_constraints()
        return value, y

    def evaluate_step(
        self, x: Any, target: Any, weights: Any = None
    ) -> tuple[Any, Any]:
        """Per-sample losses and predictions in inference mode (no update).

        Each sample's loss (times its weight, if `weights` are given) includes
        its activity penalties (never weighted, as in Keras), so the mean over
        an epoch is Keras's (batch-size-weighted) evaluation loss less the
        weight penalties, which the caller adds once.
        """
        y, caches = self.network.forward(x, training=False)
        per_sample = self._loss.sample_losses(self._loss_input(y, caches), target)
        if weights is not None:
            per_sample = per_sample * weights  # (batch,)
        activity = self.network.sample_activity(caches)
        return (per_sample if activity is None else per_sample + activity), y

    def predict(self, x: Any) -> Any:
        return self.network.forward(x, training=False)[0]

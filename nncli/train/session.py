"""Spec -> Session: the validated spec, the built model and the checked data.

Nothing here writes a file: every check that can fail on bad input runs before
a run directory exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nncli import artifacts
from nncli.errors import DataError, Issue, RunError, SpecError


@dataclass
class Session:
    """Everything built from a spec, before anything is written."""

    resolved: dict[str, Any]  # the validated spec, every default filled in
    spec_path: Path
    backend: Any
    model: Any
    splits: Any
    units: int
    target_kind: str
    warnings: list[str] = field(default_factory=list)

    def make_metrics(self) -> dict[str, Any]:
        from nncli.engine.metrics import build_metrics

        return build_metrics(self.resolved["metrics"], self.target_kind, self.units)


def prepare(
    spec_path: Path,
    overrides: list[str] = (),
    init_weights: Path | None = None,
    load_data: bool = True,
    weights_option: str | None = None,
) -> Session:
    """Validate the spec, build the model and load the data; write nothing.

    `weights_option` is how the user gave `init_weights` (say `--from RUN`),
    which errors about those weights name; `--init-weights PATH` by default.
    """
    from nncli.spec.load import apply_override, locate, read_spec, validate

    spec_path = Path(spec_path)
    src = read_spec(spec_path)
    for text in overrides:
        apply_override(src, text)
    spec = validate(src)
    resolved = spec.model_dump(mode="json")
    resolved["name"] = resolved["name"] or spec_path.stem
    too_big = list(_beyond_dtype(resolved, float(np.finfo(resolved["dtype"]).max)))
    if too_big:
        raise SpecError(
            [
                locate(
                    src,
                    Issue(
                        path,
                        f"{value:g} is beyond {resolved['dtype']}'s "
                        "largest number; it would become infinite",
                    ),
                )
                for path, value in too_big
            ]
        )
    spec_dir = spec_path.resolve().parent
    if init_weights is not None:
        resolved["model"]["init_weights"] = str(Path(init_weights).resolve())
        src.overrides["model.init_weights"] = (
            weights_option or f"--init-weights {init_weights}"
        )
    try:
        session = build_session(resolved, spec_path, spec_dir)
    except SpecError as e:  # checks on the built model: cite the spec's lines
        raise SpecError([locate(src, i) for i in e.issues]) from e
    if load_data:
        try:
            attach_data(session, spec_dir)
        except SpecError as e:  # class_weight names unknown classes: cite its line
            raise SpecError([locate(src, i) for i in e.issues]) from e
    return session


def _beyond_dtype(node: Any, limit: float, path: str = "") -> Any:
    """(path, value) of every float in the spec too large for the model's dtype."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _beyond_dtype(value, limit, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _beyond_dtype(value, limit, f"{path}[{i}]")
    elif isinstance(node, float) and abs(node) > limit:
        yield path, node


def build_session(resolved: dict[str, Any], spec_path: Path, spec_dir: Path) -> Session:
    """Backend, network, loss and optimizer from a resolved spec."""
    from nncli.engine.backend import Backend, reuse_freed_host_memory
    from nncli.engine.losses import losses
    from nncli.engine.network import LayerBuildError, Model, Sequential
    from nncli.engine.optimizers import optimizers

    backend = Backend.from_name(resolved["backend"], resolved["dtype"])
    if backend.name == "numpy":
        reuse_freed_host_memory()  # a process that trains: see its docstring
    network = Sequential.from_config(resolved["model"]["layers"])
    init_rng = np.random.default_rng(
        np.random.SeedSequence(resolved["seed"]).spawn(1)[0]
    )
    try:
        shape = network.build(
            tuple(resolved["model"]["input_shape"]), backend, init_rng
        )
    except LayerBuildError as e:
        raise SpecError(str(e), f"model.layers[{e.index}]") from e
    for i, name in network.initial_problems():
        raise SpecError(
            f"the initial {name} is not finite in {resolved['dtype']}; "
            f"check {name}_initializer",
            f"model.layers[{i}]",
        )
    loss = losses.create(resolved["loss"])
    _check_head(network, loss, int(shape[-1]))
    model = Model(network, loss, optimizers.create(resolved["optimizer"]))
    _load_init_weights(network, resolved["model"].get("init_weights"), spec_dir)
    session = Session(
        resolved,
        spec_path,
        backend,
        model,
        None,
        units=int(shape[-1]),
        target_kind=loss.target_kind,
    )
    session.make_metrics()  # a metric that cannot apply to this output: SpecError
    session.warnings += _spec_warnings(session)
    return session


def _check_head(network: Any, loss: Any, units: int) -> None:
    """Refuse outputs a loss cannot use, whatever the data (CASE-004b)."""
    last = len(network.layers) - 1
    if len(network.shapes[-1]) != 1:
        raise SpecError(
            f"the model outputs shape {list(network.shapes[-1])} per sample, but "
            "losses compare one vector per sample; add {type: flatten} before the "
            "last dense layer, or check model.input_shape",
            f"model.layers[{last}]",
        )
    act = getattr(network.layers[-1], "activation_name", None)
    if act == "softmax" and units == 1:
        raise SpecError(
            "a softmax over 1 unit always outputs 1.0, so the loss cannot change and "
            "nothing is learned; use activation: sigmoid with binary_crossentropy, or "
            "2 softmax units",
            f"model.layers[{last}]",
        )


def _load_init_weights(network: Any, path_text: str | None, spec_dir: Path) -> None:
    if not path_text:
        return
    path = Path(path_text)
    if not path.is_absolute():
        path = spec_dir / path

    try:
        weights = artifacts.read_weights(path)
        network.set_weights(weights, source=str(path))
    except (RunError, ValueError) as e:
        raise SpecError(str(e), "model.init_weights") from e
    for name, p in network.params().items():
        if not np.isfinite(network.backend.to_numpy(p)).all():
            raise SpecError(
                f"{path}: {name} holds NaN or infinite values", "model.init_weights"
            )


def _spec_warnings(session: Session) -> list[str]:
    out = []
    loss_type = session.resolved["loss"]["type"]
    last = session.model.network.layers[-1]
    act = getattr(last, "activation_name", None)
    if loss_type == "binary_crossentropy" and act == "softmax" and session.units > 1:
        out.append(
            f"binary_crossentropy on a {session.units}-unit softmax output: this is "
            "probably meant to be categorical_crossentropy (one-hot targets) or "
            "sparse_categorical_crossentropy (integer labels)"
        )
    return out


def attach_data(session: Session, spec_dir: Path) -> None:
    """Load and check the data against the loss and the output layer."""
    from nncli.data.checks import check_inputs, check_targets
    from nncli.data.sources import load_data
    from nncli.data.weights import apply_class_weight

    r = session.resolved
    try:
        splits = load_data(
            r["data"], spec_dir, r["seed"], tuple(r["model"]["input_shape"])
        )
    except MemoryError:
        raise DataError("not enough memory to load the data") from None
    last = session.model.network.layers[-1]
    act = getattr(last, "activation_name", "linear")
    args = (session.target_kind, session.units, act, r["loss"]["type"])
    splits.train = check_targets(splits.train, *args)
    if splits.validation is not None:
        splits.validation = check_targets(splits.validation, *args)
    first, prep = session.model.network.layers[0], splits.prep
    for role in ("train", "validation"):
        if getattr(splits, role) is not None:
            checked = check_inputs(
                getattr(splits, role), first, prep.feature_names, prep.standardize
            )
            setattr(splits, role, checked)
    for ds in (splits.train, splits.validation):
        if ds is not None:
            check_fits(ds, session.backend.dtype, splits.prep.feature_names)
    apply_class_weight(splits, r.get("class_weight"), *args[:2], args[3], r["dtype"])
    session.splits = splits


def check_fits(ds: Any, dtype: Any, feature_names: list[str] | None) -> None:
    """Refuse values the model's float type cannot hold (1e39 is inf in float32)."""
    limit = np.finfo(dtype).max
    for what, arr in (("feature", ds.x), ("target", ds.y)):
        if not np.issubdtype(arr.dtype, np.floating):
            continue
        flat = arr.reshape(len(arr), -1)
        bad = np.argwhere(~(np.abs(flat) <= limit))
        if len(bad):
            i, j = bad[0]
            col = (
                f" {feature_names[j]!r}"
                if what == "feature" and feature_names and j < len(feature_names)
                else f" {j + 1}"
            )
            raise DataError(
                f"{ds.role} data {getattr(ds, 'name', ds.origin)}: row {ds.rows[i]}, "
                f"{what}{col} = {flat[i, j]:g} does not fit in {np.dtype(dtype).name} "
                f"(largest {limit:.3g}); rescale the data or set data.standardize: true"
            )

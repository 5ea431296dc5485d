"""The spec's pydantic models: every key, type, default and range.

Registered things (layers, losses, optimizers, ...) contribute their own
`Config` models, so a layer's options are declared next to the layer. Build the
models with `run_spec_model()` after `nncli.engine` and `nncli.data` have been
imported (that import fills the registries).
"""

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from nncli.registry import StrictModel, named


def _one_target_error(value: Any) -> Any:
    """One clear message instead of one per branch of the union below."""
    ok = (
        isinstance(value, str)
        or (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        or value is None
    )
    if not ok:
        raise PydanticCustomError(
            "target_type",
            "expected a column name, a column index or a list of column "
            "names, got {value}",
            {"value": repr(value)},
        )
    return value


TargetSpec = Annotated[str | int | list[str], BeforeValidator(_one_target_error)]


def _one_column_error(value: Any) -> Any:
    ok = isinstance(value, str) or (
        isinstance(value, int) and not isinstance(value, bool)
    )
    if not ok:
        raise PydanticCustomError(
            "column_type",
            "expected a column name or a 0-based column index, got {value}",
            {"value": repr(value)},
        )
    return value


ColumnSpec = Annotated[str | int, BeforeValidator(_one_column_error)]


def _class_weight_error(value: Any) -> Any:
    if not isinstance(value, dict | str):
        raise PydanticCustomError(
            "class_weight_type",
            "expected a mapping of class to weight, or balanced, got {value}",
            {"value": repr(value)},
        )
    return value


def _class_weight_kind(value: Any) -> str:
    return "<balanced>" if isinstance(value, str) else "<classes>"


# A mapping {class: weight} or `balanced`; the tags (dropped from error paths)
# pick the branch, so an error speaks only of the one that was meant.
ClassWeight = Annotated[
    Annotated[
        dict[str, Annotated[float, Field(ge=0)]], Field(min_length=1), Tag("<classes>")
    ]
    | Annotated[Literal["balanced"], Tag("<balanced>")],
    Discriminator(_class_weight_kind),
    BeforeValidator(_class_weight_error),
]


class DataSpec(StrictModel):
    """Where the data comes from and how it is split and prepared."""

    dataset: Any = Field(
        None, description="A dataset that ships with nncli: moons, iris, ..."
    )
    train: str | None = Field(
        None, description="Training file (.csv or .npz), relative to the spec file."
    )
    x: str | None = Field(None, description="Features file, used with `y`.")
    y: str | None = Field(None, description="Labels file, used with `x`.")
    validation: str | None = Field(
        None, description="Separate validation file, relative to the spec file."
    )
    validation_split: float = Field(
        0.0, ge=0.0, lt=1.0, description="Fraction held out for validation."
    )
    split_shuffle: bool = Field(
        True,
        description="Shuffle (by the seed) before the split; false takes "
        "Keras's unshuffled tail.",
    )
    format: Literal["auto", "csv", "npz"] = "auto"
    header: bool = Field(True, description="CSV files start with a header row.")
    target: TargetSpec | None = Field(
        None, description="Target column(s) of a CSV: name, index, or list of names."
    )
    x_array: str | None = Field(
        None,
        min_length=1,
        description="Name of the features array in .npz files (default x), "
        "e.g. x_train.",
    )
    y_array: str | None = Field(
        None,
        min_length=1,
        description="Name of the targets array in .npz files (default y), "
        "e.g. y_train.",
    )
    missing: Literal["error", "drop"] = Field(
        "error", description="What to do with empty, '?' or NaN cells."
    )
    standardize: bool = Field(
        False, description="Scale features to zero mean, unit variance (train stats)."
    )
    sample_weight: ColumnSpec | None = Field(
        None,
        description="Column (CSV name or index; in the labels file with x/y) or "
        ".npz array of per-sample loss weights >= 0; not a feature.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> "DataSpec":
        given = [k for k in ("dataset", "train", "x") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one data source: `dataset`, `train`, or `x` with `y`"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if (self.x is None) != (self.y is None):
            raise ValueError("`x` and `y` go together: give both files")
        if self.validation is not None and self.validation_split > 0:
            raise ValueError("give `validation` or `validation_split`, not both")
        if self.validation is not None and self.train is None:
            raise ValueError(
                "`validation` (a file) goes with `train` (a file); with "
                "`dataset` or `x`/`y` use `validation_split`"
            )
        if self.target is not None and self.dataset is not None:
            raise ValueError(
                "`target` names a CSV column; shipped datasets know their "
                "own target, remove it"
            )
        arrays = [k for k in ("x_array", "y_array") if getattr(self, k) is not None]
        if arrays and self.train is None:
            raise ValueError(
                f"`{arrays[0]}` names an array of an .npz file (`train`); "
                + (
                    "shipped datasets know their own arrays"
                    if self.dataset is not None
                    else "`x` and `y` are CSV files"
                )
                + ", remove it"
            )
        if self.x_array is not None and self.x_array == self.y_array:
            raise ValueError(
                f"`x_array` and `y_array` both name array {self.x_array!r}; "
                "features and targets need arrays of their own"
            )
        if isinstance(self.target, list) and not self.target:
            raise ValueError("`target` is an empty list; name at least one column")
        if self.sample_weight is not None and self.dataset is not None:
            raise ValueError(
                "`sample_weight` names a column of a data file; shipped datasets "
                "have no weight column, remove it"
            )
        targets = self.target if isinstance(self.target, list) else [self.target]
        if self.sample_weight is not None and self.sample_weight in targets:
            raise ValueError(
                f"`sample_weight` and `target` both name column {self.sample_weight!r};"
                " the weights need a column of their own"
            )
        return self


@cache
def run_spec_model() -> "type[StrictModel]":
    """The RunSpec model, built once the registries are filled."""
    import nncli.engine  # noqa: F401  (fills the engine registries)
    from nncli.data.datasets import datasets
    from nncli.engine.layers import layers
    from nncli.engine.losses import losses
    from nncli.engine.metrics import metrics
    from nncli.engine.optimizers import optimizers
    from nncli.train.callbacks import callbacks

    # Built here, before the classes, so a field name (`layers`) cannot shadow
    # the registry of the same name when pydantic reads the annotations.
    DatasetRef = named(datasets)
    LayerRef = named(layers)
    LossRef = named(losses)
    OptimizerRef = named(optimizers)
    MetricRef = named(metrics)
    CallbackRef = named(callbacks)

    class Data(DataSpec):
        __doc__ = DataSpec.__doc__
        dataset: DatasetRef | None = Field(  # type: ignore[valid-type]
            None, description="A dataset that ships with nncli."
        )

    class Model(StrictModel):
        """The network: input shape (without the batch axis) and its layers."""

        input_shape: list[Annotated[int, Field(gt=0)]] = Field(
            min_length=1,
            max_length=8,
            description="Shape of one sample, e.g. [2] or [3, 2]; may instead be "
            "given as the first layer's input_shape (or input_dim), as in Keras.",
        )
        layers: list[LayerRef] = Field(  # type: ignore[valid-type]
            min_length=1, description="Layers in order, Keras names."
        )
        init_weights: str | None = Field(
            None, description="safetensors file to start from (relative to the spec)."
        )

    class RunSpec(StrictModel):
        """One experiment: data, model, loss, optimizer and training options."""

        version: Literal[1] = Field(1, description="Spec format version.")
        name: str | None = Field(
            None,
            min_length=1,
            max_length=100,
            description="Run name prefix; defaults to the spec file's stem.",
        )
        seed: int = Field(
            0, ge=0, description="Seeds weights, shuffling, dropout, splits."
        )
        backend: Literal["auto", "numpy", "cupy"] = Field(
            "numpy", description="Array backend; auto = cupy when a GPU is visible."
        )
        dtype: Literal["float32", "float64"] = Field(
            "float32", description="Float type of weights and activations."
        )
        data: Data = Field(description="Where the data comes from; see `data` below.")
        model: Model = Field(description="Input shape and layers; see `model` below.")
        loss: LossRef = Field(  # type: ignore[valid-type]
            description="Loss to minimise, e.g. binary_crossentropy."
        )
        optimizer: OptimizerRef = Field(  # type: ignore[valid-type]
            "rmsprop", description="Update rule; Keras's compile() default is rmsprop."
        )
        metrics: list[MetricRef] = Field(  # type: ignore[valid-type]
            default_factory=list, description="Reported besides the loss."
        )
        epochs: int = Field(1, ge=1, description="Passes over the training data.")
        batch_size: int = Field(32, ge=1, description="Samples per update (Keras: 32).")
        shuffle: bool = Field(
            True, description="Reshuffle the training data each epoch."
        )
        callbacks: list[CallbackRef] = Field(  # type: ignore[valid-type]
            default_factory=list,
            description="Keras callbacks: early_stopping, reduce_lr_on_plateau, "
            "model_checkpoint, terminate_on_nan.",
        )
        class_weight: ClassWeight | None = Field(
            None,
            description="Weight of each class in the training loss (Keras's "
            "fit(class_weight=...)): {label: weight} with the labels as written "
            "in the data, or balanced = n_samples / (n_classes * count).",
        )
        max_time: float | None = Field(
            None,
            gt=0,
            description="Wall-clock budget for training, in seconds; when it runs "
            "out the run stops after the current step, keeping the finished epochs "
            "(status stopped; --resume continues).",
        )

        @model_validator(mode="after")
        def _callbacks_fit(self) -> "RunSpec":
            has_validation = (
                self.data.validation is not None or self.data.validation_split > 0
            )
            scheduled = not isinstance(self.optimizer.learning_rate, float | int)
            for cb in self.callbacks:
                monitor = getattr(cb, "monitor", "")
                if monitor.startswith("val_") and not has_validation:
                    raise ValueError(
                        f"{cb.type} watches {monitor!r}, but there is no "
                        "validation data; set data.validation_split (or "
                        "data.validation), or monitor: loss"
                    )
                if cb.type == "reduce_lr_on_plateau" and scheduled:
                    raise ValueError(
                        "reduce_lr_on_plateau cannot change a learning-rate "
                        "schedule (Keras refuses it too); use a number for "
                        "optimizer.learning_rate"
                    )
            return self

    return RunSpec

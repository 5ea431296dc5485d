"""What was done to the data before training, kept so eval/predict do the same.

`Preprocessing` holds the label mapping (text class names -> ids, in sorted
order) and, with `data.standardize`, the per-feature mean and std fitted on the
training split only. It round-trips through JSON (`to_json` / `from_json`) so a
run folder can carry it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nncli.errors import DataError

FORMAT_VERSION = 1


@dataclass
class Preprocessing:
    """Label mapping and feature scaling, fitted on the training data.

    Args:
        input_shape: shape of one sample (without the batch axis).
        feature_names: one name per feature value, in row-major order.
        target_names: the target column name(s).
        classes: text labels in id order (`classes[i]` has id i), or None when
            the targets were numbers.
        mean, std: (features,) float64 over the flattened sample, or None when
            standardisation is off. A std of 0 is stored as 1.
    """

    input_shape: tuple[int, ...]
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    classes: list[str] | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return math.prod(self.input_shape)

    @property
    def standardize(self) -> bool:
        return self.mean is not None

    def fit_standardize(self, x: np.ndarray) -> None:
        """Fit mean and std (population, ddof=0) per feature value on training x."""
        flat = x.reshape(len(x), -1)  # (n, features)
        # A constant feature becomes exactly 0 and stays put (std 1): tested by
        # equality, since the float std of 999 copies of 7.3 is 8.9e-16, not 0,
        # and dividing by it would blow up any other value by 1e15.
        constant = (flat == flat[:1]).all(axis=0)
        self.mean = np.where(constant, flat[0], flat.mean(axis=0))
        self.std = np.where(constant, 1.0, flat.std(axis=0))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """x (n, *input_shape) or (n, features) -> same shape, standardised if fitted."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < 1 or math.prod(x.shape[1:]) != self.n_features:
            raise DataError(
                f"expected {self.n_features} feature values per row for input_shape "
                f"{list(self.input_shape)}, got an array of shape {list(x.shape)}"
            )
        if self.mean is None:
            return x
        flat = x.reshape(len(x), -1)  # (n, features)
        return ((flat - self.mean) / self.std).reshape(x.shape)

    def label_map(self) -> dict[str, int] | None:
        """{class name: id}, what `labels.json` holds; None for numeric targets."""
        return (
            None if self.classes is None else {c: i for i, c in enumerate(self.classes)}
        )

    def encode(
        self, labels: Sequence[str], rows: Sequence[int], where: str
    ) -> np.ndarray:
        """Text labels -> (n,) int64 ids with the fitted classes.

        `where` starts the error message (e.g. "validation file valid.csv"); an
        unseen label is an error naming its row, never a new id.
        """
        if self.classes is None:
            raise DataError(
                f"{where}: the target holds text labels (row {rows[0]}: {labels[0]!r}) "
                "but the training targets are numbers"
            )
        ids = self.label_map()
        assert ids is not None
        bad = [(r, v) for r, v in zip(rows, labels) if v not in ids]
        if bad:
            n_more = len(bad) - 1
            more = f" (and {n_more} more row{'s' * (n_more > 1)} with unknown labels)"
            more = more if n_more else ""
            raise DataError(
                f"{where}: row {bad[0][0]} has label {bad[0][1]!r}, which the training "
                f"data does not have{more}; known classes: {', '.join(self.classes)}"
            )
        return np.array([ids[v] for v in labels], dtype=np.int64)

    def to_json(self) -> dict:
        """A JSON-ready dict; floats keep full precision (Python's repr round-trips)."""
        return {
            "version": FORMAT_VERSION,
            "input_shape": list(self.input_shape),
            "feature_names": self.feature_names,
            "target_names": self.target_names,
            "classes": self.classes,
            "standardize": self.standardize,
            "mean": None if self.mean is None else [float(v) for v in self.mean],
            "std": None if self.std is None else [float(v) for v in self.std],
        }

    @classmethod
    def from_json(cls, data: dict) -> Preprocessing:
        """Inverse of `to_json`; a malformed dict is a DataError naming the key."""
        try:
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"unsupported version {data.get('version')!r}")
            prep = cls(
                input_shape=tuple(int(d) for d in data["input_shape"]),
                feature_names=data.get("feature_names"),
                target_names=data.get("target_names"),
                classes=data.get("classes"),
            )
            if data.get("mean") is not None:
                prep.mean = np.array(data["mean"], dtype=np.float64)
                prep.std = np.array(data["std"], dtype=np.float64)
                if (
                    prep.mean.shape != (prep.n_features,)
                    or prep.std.shape != prep.mean.shape
                ):
                    raise ValueError("mean/std length does not match input_shape")
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"preprocessing record is malformed: {err}") from err
        return prep

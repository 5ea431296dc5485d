"""Datasets that ship with nncli: 2-D synthetic sets, small real tables, images,
a monthly time series and synthetic token sequences.

Each entry's `load(seed)` returns host numpy arrays `(x, y)` plus class names:
`x` is (n, features) (float64, or int64 token ids); `y` is (n,) int64 class
ids, or float64 values for the time series. Synthetic sets give class names
None (their labels are the numbers 0..k-1, usable with any loss); the real
tables give their text labels, numbered in sorted order like a CSV's
(`nncli.data.sources`). Synthetic sets draw from `numpy.random.default_rng`
seeded by their own `seed` option or, when unset, the spec's seed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from nncli.registry import Registry, StrictModel

datasets: Registry[type[BuiltinDataset]] = Registry("dataset")


class BuiltinDataset:
    """Base: `feature_names` and `target_name` label the columns in the run."""

    feature_names: tuple[str, ...] = ("x1", "x2")
    target_name: str = "label"

    class Config(StrictModel):
        type: str

    def __init__(self, **options: object) -> None:
        """Options become attributes; unset ones take their `Config` default."""
        for name, info in type(self).Config.model_fields.items():
            if name != "type":
                setattr(self, name, options.pop(name, info.default))
        if options:
            raise TypeError(f"unknown options {sorted(options)}")

    def load(self, seed: int) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
        raise NotImplementedError


class SyntheticConfig(StrictModel):
    """Options every synthetic set takes."""

    n_samples: int = Field(1000, ge=2, le=10_000_000)
    noise: float = Field(0.1, ge=0.0, description="Std of Gaussian noise.")
    seed: int | None = Field(None, ge=0)


def _rng(own: int | None, spec_seed: int) -> np.random.Generator:
    return np.random.default_rng(own if own is not None else spec_seed)


def _halves(n: int) -> tuple[int, int]:
    """Sizes of two classes from n samples (the first gets the smaller half)."""
    return n // 2, n - n // 2


@datasets.register("moons")
class Moons(BuiltinDataset):
    """Two interleaving half circles (sklearn's make_moons construction)."""

    class Config(SyntheticConfig):
        type: Literal["moons"] = "moons"

    def load(self, seed):
        rng = _rng(self.seed, seed)
        n_out, n_in = _halves(self.n_samples)
        t_out = np.linspace(0, np.pi, n_out)
        t_in = np.linspace(0, np.pi, n_in)
        x = np.concatenate(
            [
                np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                np.stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5], axis=1),
            ]
        )  # (n, 2)
        y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
        x = x + rng.normal(scale=self.noise, size=x.shape)
        order = rng.permutation(self.n_samples)
        return x[order], y[order].astype(np.int64), None


@datasets.register("circles")
class Circles(BuiltinDataset):
    """A small circle (class 1) inside a large one (class 0), as sklearn's make_circles."""

    class Config(SyntheticConfig):
        type: Literal["circles"] = "circles"
        factor: float = Field(0.5, gt=0.0, lt=1.0, description="Inner/outer radius.")

    def load(self, seed):
        rng = _rng(self.seed, seed)
        n_out, n_in = _halves(self.n_samples)
        t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
        t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
        x = np.concatenate(
            [
                np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                self.factor * np.stack([np.cos(t_in), np.sin(t_in)], axis=1),
            ]
        )  # (n, 2)
        y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
        x = x + rng.normal(scale=self.noise, size=x.shape)
        order = rng.permutation(self.n_samples)
        return x[order], y[order].astype(np.int64), None


@datasets.register("xor")
class Xor(BuiltinDataset):
    """Points uniform in [-1, 1]^2; class 1 where exactly one coordinate is positive.

    Labels come from the clean point; the noise is added afterwards, so it
    blurs the quadrant borders.
    """

    class Config(SyntheticConfig):
        type: Literal["xor"] = "xor"

    def load(self, seed):
        rng = _rng(self.seed, seed)
        x = rng.uniform(-1.0, 1.0, size=(self.n_samples, 2))  # (n, 2)
        y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64)  # (n,)
        x = x + rng.normal(scale=self.noise, size=x.shape)
        return x, y, None


@datasets.register("spirals")
class Spirals(BuiltinDataset):
    """Two interleaved spirals of 1.5 turns each, radius growing from 0 to 1.

    Class k's point at t in (0, 1] sits at radius t and angle 3*pi*t + k*pi, so
    neighbouring arms are 1/3 apart; the default noise keeps them separable.
    """

    class Config(SyntheticConfig):
        type: Literal["spirals"] = "spirals"
        noise: float = Field(0.05, ge=0.0, description="Std of Gaussian noise.")

    def load(self, seed):
        rng = _rng(self.seed, seed)
        parts, labels = [], []
        for k, n_k in enumerate(_halves(self.n_samples)):
            t = (np.arange(n_k) + 1.0) / n_k  # (n_k,) in (0, 1]
            angle = 3 * np.pi * t + k * np.pi
            parts.append(np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1))
            labels.append(np.full(n_k, k))
        x = np.concatenate(parts)  # (n, 2)
        x = x + rng.normal(scale=self.noise, size=x.shape)
        order = rng.permutation(self.n_samples)
        return x[order], np.concatenate(labels)[order].astype(np.int64), None


@datasets.register("blobs")
class Blobs(BuiltinDataset):
    """Isotropic Gaussian clusters, one class each (sklearn's make_blobs construction).

    Centres are drawn uniformly in [-10, 10]^n_features; the samples are split
    as evenly as possible, the first clusters taking the remainder.
    """

    class Config(StrictModel):
        type: Literal["blobs"] = "blobs"
        n_samples: int = Field(1000, ge=2, le=10_000_000)
        centers: int = Field(
            3, ge=2, le=1000, description="Number of clusters (= classes)."
        )
        cluster_std: float = Field(1.0, ge=0.0, description="Std of each cluster.")
        n_features: int = Field(2, ge=1, le=10_000)
        seed: int | None = Field(None, ge=0)

    def load(self, seed):
        self.feature_names = tuple(f"x{j + 1}" for j in range(self.n_features))
        rng = _rng(self.seed, seed)
        centres = rng.uniform(-10.0, 10.0, size=(self.centers, self.n_features))
        sizes = np.full(self.centers, self.n_samples // self.centers)
        sizes[: self.n_samples % self.centers] += 1
        y = np.repeat(np.arange(self.centers), sizes)  # (n,)
        x = centres[y] + rng.normal(
            scale=self.cluster_std, size=(self.n_samples, self.n_features)
        )
        order = rng.permutation(self.n_samples)
        return x[order], y[order].astype(np.int64), None


class _Table(BuiltinDataset):
    """A shipped CSV table: rows in file order, text labels numbered in sorted order."""

    table: str = ""

    def load(self, seed):
        from nncli.datasets import read_table

        header, rows = read_table(self.table)
        self.feature_names, self.target_name = tuple(header[:-1]), header[-1]
        x = np.array([[float(v) for v in r[:-1]] for r in rows])  # (n, features)
        classes = sorted({r[-1] for r in rows})
        ids = {name: i for i, name in enumerate(classes)}
        y = np.array([ids[r[-1]] for r in rows], dtype=np.int64)  # (n,)
        return x, y, classes


@datasets.register("iris")
class Iris(_Table):
    """Fisher's iris: 150 flowers, 4 measurements in cm, 3 species (50 each)."""

    table = "iris"
    feature_names = ("sepal_length", "sepal_width", "petal_length", "petal_width")
    target_name = "species"

    class Config(StrictModel):
        type: Literal["iris"] = "iris"


@datasets.register("breast_cancer")
class BreastCancer(_Table):
    """Wisconsin diagnostic breast cancer (WDBC): 569 rows, 30 features, 2 classes."""

    table = "breast_cancer"
    target_name = "diagnosis"

    class Config(StrictModel):
        type: Literal["breast_cancer"] = "breast_cancer"


@datasets.register("digits")
class Digits(_Table):
    """UCI optical digits: 1,797 images of 8x8 pixels (counts 0..16), 10 classes.

    Each row is one image, row-major (`pixel_<row>_<col>`), so
    `model.input_shape: [8, 8, 1]` gives (height, width, channels) images and
    `[64]` a flat vector. Labels are the digits "0".."9" (ids 0..9).
    """

    table = "digits"
    feature_names = tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8))
    target_name = "digit"

    class Config(StrictModel):
        type: Literal["digits"] = "digits"


@datasets.register("elnino")
class ElNino(BuiltinDataset):
    """Monthly sea surface temperature of the Nino 1+2 region, 1950-2010 (NOAA).

    732 months in degrees Celsius (public domain; see nncli/datasets/README.md),
    cut into overlapping windows: each sample is `window` consecutive months,
    oldest first (features `lag_<k>`, k months before the target), and its
    target the temperature `horizon` months after the window's last month.
    Samples are in time order, so `validation_split` with `split_shuffle:
    false` holds out the latest years, a forecast of the unseen future. Use
    `model.input_shape: [window, 1]` for a recurrent layer.
    """

    target_name = "temperature"

    class Config(StrictModel):
        type: Literal["elnino"] = "elnino"
        window: int = Field(12, ge=1, le=600, description="Months of history.")
        horizon: int = Field(
            1, ge=1, le=120, description="Months ahead of the last one to predict."
        )

    def load(self, seed):
        series = elnino_series()  # (732,)
        n = len(series) - self.window - self.horizon + 1
        idx = np.arange(n)[:, None] + np.arange(self.window)[None, :]  # (n, window)
        lags = range(self.window + self.horizon - 1, self.horizon - 1, -1)
        self.feature_names = tuple(f"lag_{k}" for k in lags)
        return series[idx], series[idx[:, -1] + self.horizon], None


def elnino_series() -> np.ndarray:
    """The 732 monthly temperatures in time order, January 1950 first."""
    from nncli.datasets import read_table

    _, rows = read_table("elnino")  # YEAR, JAN, ..., DEC
    return np.array([[float(v) for v in r[1:13]] for r in rows]).reshape(-1)


@datasets.register("tokens")
class Tokens(BuiltinDataset):
    """Synthetic token sequences, a text-like task for an embedding layer.

    Each sample is `length` ids drawn uniformly from [0, vocab_size): ids 1-5
    stand for positive words, 6-10 for negative ones, the rest (0 included)
    for neutral ones. The label is 1 when the positive words outnumber the
    negative ones, else 0, so the model must learn which ids matter and count
    them. Use `model.input_shape: [length]` and an embedding with
    `input_dim: vocab_size`.

    With `min_length`, samples are sentences of varying length: each has
    between min_length and length words, drawn from [1, vocab_size), and is
    padded with id 0 at the end, for an embedding with `mask_zero: true`.
    """

    target_name = "positive"

    class Config(StrictModel):
        type: Literal["tokens"] = "tokens"
        n_samples: int = Field(2000, ge=2, le=10_000_000)
        length: int = Field(20, ge=1, le=10_000, description="Tokens per sample.")
        vocab_size: int = Field(
            50, ge=11, le=1_000_000, description="Ids are in [0, vocab_size)."
        )
        min_length: int | None = Field(
            None, ge=1, description="Varying lengths, padded with id 0 at the end."
        )
        seed: int | None = Field(None, ge=0)

        @model_validator(mode="after")
        def _lengths(self) -> Tokens.Config:
            if self.min_length is not None and self.min_length > self.length:
                raise ValueError(
                    f"min_length {self.min_length} is more than length {self.length}"
                )
            return self

    def load(self, seed):
        rng = _rng(self.seed, seed)
        shape = (self.n_samples, self.length)
        if self.min_length is None:
            x = rng.integers(0, self.vocab_size, size=shape)
        else:
            x = rng.integers(1, self.vocab_size, size=shape)
            n = rng.integers(self.min_length, self.length + 1, size=self.n_samples)
            x[np.arange(self.length)[None, :] >= n[:, None]] = 0  # padding
        positive = ((x >= 1) & (x <= 5)).sum(axis=1)
        negative = ((x >= 6) & (x <= 10)).sum(axis=1)
        self.feature_names = tuple(f"token_{i + 1}" for i in range(self.length))
        return x, (positive > negative).astype(np.int64), None

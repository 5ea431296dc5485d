"""Metrics: exact accumulation over batches, logits, layouts, names, spec errors.

Values against Keras are in test_golden_metrics.py; these tests pin what the
golden cases cannot: that batching never matters, that logits are read as
probabilities, and which metric settings are refused before training.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.engine.activations import sigmoid, softmax
from nncli.engine.backend import Backend
from nncli.engine.metrics import (
    ConfusionCounts,
    Layout,
    Unfit,
    build_metrics,
    metrics,
)
from nncli.errors import SpecError
from nncli.evaluate import check_gates

N = 37
RNG = np.random.default_rng(11)
P1 = RNG.uniform(0, 1, (N, 1))  # sigmoid probabilities
Y1 = (RNG.uniform(0, 1, (N, 1)) < P1).astype(np.float64)  # informative labels
PM = RNG.uniform(0, 1, (N, 3))  # multi-label sigmoid outputs
YM = RNG.integers(0, 2, (N, 3)).astype(np.float64)
Z4 = RNG.normal(0, 2, (N, 4))  # softmax logits
P4 = np.exp(Z4) / np.exp(Z4).sum(axis=1, keepdims=True)
L4 = RNG.integers(0, 4, N)
R2 = RNG.normal(0, 1, (N, 2))
T2 = R2 + RNG.normal(0, 0.5, (N, 2))

# (config, layout kind, predictions, targets): every metric in a few settings
SETTINGS = [
    ({"type": "accuracy"}, "binary", P1, Y1),
    ({"type": "binary_accuracy", "threshold": 0.4}, "binary", PM, YM),
    ({"type": "categorical_accuracy"}, "onehot", P4, np.eye(4)[L4]),
    ({"type": "sparse_categorical_accuracy"}, "sparse", P4, L4),
    ({"type": "top_k_categorical_accuracy", "k": 2}, "onehot", P4, np.eye(4)[L4]),
    ({"type": "sparse_top_k_categorical_accuracy", "k": 3}, "sparse", P4, L4),
    ({"type": "precision"}, "binary", P1, Y1),
    ({"type": "precision", "top_k": 2, "class_id": 1}, "sparse", P4, L4),
    ({"type": "recall", "threshold": 0.2}, "binary", PM, YM),
    ({"type": "f1_score"}, "sparse", P4, L4),
    ({"type": "f1_score", "average": "weighted"}, "binary", PM, YM),
    ({"type": "auc"}, "binary", P1, Y1),
    ({"type": "auc", "curve": "PR"}, "binary", P1, Y1),
    ({"type": "auc", "multi_label": True}, "onehot", P4, np.eye(4)[L4]),
    ({"type": "mean_squared_error"}, "real", R2, T2),
    ({"type": "mean_absolute_error"}, "real", R2, T2),
    ({"type": "root_mean_squared_error"}, "real", R2, T2),
    ({"type": "r2_score"}, "real", R2, T2),
    (
        {"type": "r2_score", "class_aggregation": "variance_weighted_average"},
        "real",
        R2,
        T2,
    ),
]
COUNTING = {
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "precision",
    "recall",
    "auc",
}


def build(cfg, kind: str, units: int):
    (metric,) = build_metrics([cfg], kind, units).values()
    return metric


def run(cfg, kind, pred, target, sizes, be: Backend, logits=False) -> float:
    metric = build(cfg, kind, pred.shape[-1])
    start = 0
    for size in sizes:
        t = target[start : start + size]
        metric.update(
            be.asarray(pred[start : start + size]),
            be.asarray(t, dtype=np.int64 if t.dtype.kind == "i" else None),
            logits=logits,
        )
        start += size
    assert start == len(pred)
    return metric.result()


def splits(seed: int) -> list[int]:
    """Random batch sizes summing to N, empty batches included."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, N + 1, 5))
    return list(np.diff(np.concatenate([[0], cuts, [N]])))


def test_every_registered_metric_is_exercised_here():
    assert {cfg["type"] for cfg, *_ in SETTINGS} >= set(metrics.names())


@pytest.mark.parametrize(
    "cfg, kind, pred, target", SETTINGS, ids=[json.dumps(s[0]) for s in SETTINGS]
)
def test_batching_never_changes_the_result(cfg, kind, pred, target, backend):
    be = Backend.from_name(backend.name, dtype="float64")
    whole = run(cfg, kind, pred, target, [N], be)
    assert math.isfinite(whole)
    for seed in range(4):
        got = run(cfg, kind, pred, target, splits(seed), be)
        if cfg["type"] in COUNTING:
            assert got == whole  # counts are integers: no rounding at all
        else:
            assert got == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize(
    "cfg, kind, pred, target",
    [
        ({"type": "binary_accuracy"}, "binary", P1, Y1),
        ({"type": "precision"}, "binary", P1, Y1),
        ({"type": "recall"}, "binary", P1, Y1),
        ({"type": "auc"}, "binary", P1, Y1),
        ({"type": "r2_score"}, "real", R2, T2),
        ({"type": "root_mean_squared_error"}, "real", R2, T2),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) else "",
)
def test_an_epoch_is_not_a_mean_of_batch_results(cfg, kind, pred, target, backend):
    be = Backend.from_name(backend.name, dtype="float64")
    sizes = [3, N - 3]
    whole = run(cfg, kind, pred, target, sizes, be)
    parts = [
        run(cfg, kind, pred[a:b], target[a:b], [b - a], be) for a, b in ((0, 3), (3, N))
    ]
    assert whole == pytest.approx(run(cfg, kind, pred, target, [N], be), rel=1e-12)
    assert whole != pytest.approx(np.mean(parts), rel=1e-6)


def test_sums_stay_float64_and_on_the_backend(backend):
    be = Backend.from_name(backend.name, dtype="float32")
    m = build({"type": "mse"}, "real", 2)
    m.update(be.asarray(R2), be.asarray(T2))
    assert m.total.dtype == np.float64  # float32 inputs, float64 running sum
    # not synced to the host per batch (numpy's scalar is a float anyway)
    assert be.name == "numpy" or isinstance(m.total, be.xp.ndarray)
    auc = build({"type": "auc"}, "binary", 1)
    auc.update(be.asarray(P1), be.asarray(Y1))
    assert auc.hist.dtype == np.int64 and int(auc.hist.sum()) == N


# --- logits ----------------------------------------------------------------


ZB = np.array([[-2.0], [0.0], [0.8], [0.9], [1.5], [3.0], [-0.5], [0.85]])
YB = np.array([[0.0], [1.0], [1.0], [0.0], [1.0], [1.0], [0.0], [1.0]])


@pytest.mark.parametrize("kind", ["binary_accuracy", "precision", "recall", "f1_score"])
def test_logits_are_thresholded_as_probabilities(kind, backend):
    """threshold 0.7 on logits means logit > log(0.7 / 0.3) = 0.847, not > 0.7."""
    be = Backend.from_name(backend.name, dtype="float64")
    cfg = {"type": kind, "threshold": 0.7}
    probs = be.to_numpy(sigmoid(be.asarray(ZB)))
    from_logits = run(cfg, "binary", ZB, YB, [3, 5], be, logits=True)
    assert from_logits == run(cfg, "binary", probs, YB, [8], be)
    naive = (ZB > 0.7).astype(float)  # the bug: the raw logit against 0.7
    assert from_logits != run(cfg, "binary", naive, YB, [8], be)


def test_auc_reads_logits_through_sigmoid_or_softmax(backend):
    be = Backend.from_name(backend.name, dtype="float64")
    z = RNG.normal(0, 2, (N, 1))
    y = (RNG.uniform(size=(N, 1)) < 0.5).astype(float)
    p = be.to_numpy(sigmoid(be.asarray(z)))
    for curve in ("ROC", "PR"):
        cfg = {"type": "auc", "curve": curve}
        got = run(cfg, "binary", z, y, [10, 27], be, logits=True)
        assert got == run(cfg, "binary", p, y, [N], be)
        assert got != run(cfg, "binary", np.clip(z, 0, 1), y, [N], be)
    p4 = be.to_numpy(softmax(be.asarray(Z4)))
    for kind, t in (("sparse", L4), ("onehot", np.eye(4)[L4])):
        cfg = {"type": "auc", "multi_label": True}
        got = run(cfg, kind, Z4, t, [N], be, logits=True)
        assert got == run(cfg, kind, p4, t, [N], be)
        sig = be.to_numpy(sigmoid(be.asarray(Z4)))  # not a sigmoid per unit
        assert got != run(cfg, kind, sig, t, [N], be)


def test_softmax_logits_pass_through_softmax_for_thresholds(backend):
    be = Backend.from_name(backend.name, dtype="float64")
    p4 = be.to_numpy(softmax(be.asarray(Z4)))
    for cfg in (
        {"type": "precision", "threshold": 0.3},
        {"type": "recall", "threshold": 0.3},
        {"type": "f1_score"},
        {"type": "sparse_top_k_categorical_accuracy", "k": 2},
        {"type": "accuracy"},
    ):
        got = run(cfg, "sparse", Z4, L4, [N], be, logits=True)
        assert got == run(cfg, "sparse", p4, L4, [N], be), cfg


# --- readings of the layouts -----------------------------------------------


def test_sparse_labels_read_as_their_one_hot_rows(backend):
    be = Backend.from_name(backend.name, dtype="float64")
    for cfg in (
        {"type": "precision"},
        {"type": "recall", "class_id": 2},
        {"type": "f1_score", "average": "micro"},
        {"type": "auc", "curve": "PR"},
    ):
        sparse = run(cfg, "sparse", P4, L4, [N], be)
        assert sparse == run(cfg, "onehot", P4, np.eye(4)[L4], [N], be)


def test_plain_accuracy_follows_the_output():
    assert build({"type": "accuracy"}, "binary", 1).name == "binary_accuracy"
    assert build({"type": "acc"}, "binary", 3).name == "categorical_accuracy"
    assert build({"type": "accuracy"}, "onehot", 3).name == "categorical_accuracy"
    assert (
        build({"type": "accuracy"}, "sparse", 3).name == "sparse_categorical_accuracy"
    )
    named = build_metrics([{"type": "accuracy", "name": "hits"}], "sparse", 3)
    assert list(named) == ["hits"] and named["hits"].column == "hits"


def test_f1_on_one_sigmoid_unit_uses_half_not_argmax():
    """Keras's threshold=None would call every sample of one unit positive."""
    m = build({"type": "f1_score"}, "binary", 1)
    m.update(np.full((4, 1), 0.2), np.array([[1.0], [0.0], [1.0], [0.0]]))
    assert m.result() == 0.0  # nothing above 0.5: no true positives
    m = build({"type": "f1_score", "average": "micro"}, "sparse", 3)
    m.update(np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]), np.array([1, 0]))
    assert m.result() == pytest.approx(1.0, abs=1e-6)  # arg-max: both right


def test_top_k_at_least_the_classes_always_hits():
    m = build({"type": "sparse_top_k_categorical_accuracy"}, "sparse", 4)  # k=5
    m.update(P4, L4)
    assert m.result() == 1.0


def test_r2_of_a_constant_target():
    m = build({"type": "r2_score"}, "real", 1)
    m.update(np.array([[1.0], [3.0]]), np.array([[2.0], [2.0]]))
    assert m.result() == 0.0  # Keras: an infinite score reads 0
    m.reset()
    m.update(np.array([[2.0], [2.0]]), np.array([[2.0], [2.0]]))
    assert math.isnan(m.result())  # 0 / 0, as Keras


def test_results_before_any_update():
    """Nothing seen: a mean is undefined (NaN; Keras says 0.0), counts give 0."""
    assert math.isnan(build({"type": "mse"}, "real", 1).result())
    assert build({"type": "precision"}, "binary", 1).result() == 0.0
    assert math.isnan(build({"type": "auc"}, "binary", 1).result())
    assert math.isnan(build({"type": "r2_score"}, "real", 1).result())


def test_confusion_counts():
    cm = ConfusionCounts(Layout("binary", 1))
    cm.update(np.array([[-1.0], [0.0], [2.0]]), np.array([[0.0], [1.0], [1.0]]), True)
    assert cm.matrix() == [[1, 0], [1, 1]]  # logit 0 is probability 0.5: not above
    cm = ConfusionCounts(Layout("sparse", 3))
    cm.update(np.array([[0.4, 0.4, 0.2], [0.1, 0.2, 0.7]]), np.array([1, 2]))
    assert cm.matrix() == [[0, 0, 0], [1, 0, 0], [0, 0, 1]]  # ties: first class
    for layout in (Layout("real", 1), Layout("binary", 3)):
        with pytest.raises(Unfit):
            ConfusionCounts(layout)


# --- what is refused before training ---------------------------------------


@pytest.mark.parametrize(
    "cfgs, kind, units, where, words",
    [
        ([{"type": "precision"}], "real", 1, "metrics[0]", "regression"),
        ([{"type": "auc"}], "real", 2, "metrics[0]", "needs class targets"),
        ([{"type": "r2_score"}], "sparse", 3, "metrics[0]", "integer class labels"),
        ([{"type": "binary_accuracy"}], "sparse", 3, "metrics[0]", "use sparse_cat"),
        (
            [{"type": "accuracy"}, {"type": "sparse_categorical_accuracy"}],
            "onehot",
            3,
            "metrics[1]",
            "use categorical_accuracy",
        ),
        ([{"type": "categorical_accuracy"}], "binary", 1, "metrics[0]", "1 (its"),
        (
            [{"type": "top_k_categorical_accuracy"}],
            "sparse",
            3,
            "metrics[0]",
            "use sparse_top_k",
        ),
        (
            [{"type": "recall", "class_id": 3}],
            "sparse",
            3,
            "metrics[0].class_id",
            "0 to 2",
        ),
        ([{"type": "precision", "top_k": 4}], "onehot", 3, "metrics[0].top_k", "more"),
        (
            [{"type": "auc"}, {"type": "auc", "curve": "PR"}],
            "binary",
            1,
            "metrics[1]",
            "'auc' is already used by metrics[0]",
        ),
        (
            [{"type": "accuracy"}, {"type": "acc"}],
            "binary",
            1,
            "metrics[1]",
            "distinct `name`",
        ),
        (
            [{"type": "mse", "name": "err"}, {"type": "mae", "name": "err"}],
            "real",
            1,
            "metrics[1].name",
            "'err' is already used",
        ),
    ],
)
def test_metrics_that_cannot_apply_are_spec_errors(cfgs, kind, units, where, words):
    with pytest.raises(SpecError) as e:
        build_metrics(cfgs, kind, units)
    (issue,) = e.value.issues
    assert issue.path == where and words in issue.message, issue


def test_every_problem_is_reported_at_once():
    with pytest.raises(SpecError) as e:
        build_metrics(
            [{"type": "precision"}, {"type": "mse"}, {"type": "mse"}], "sparse", 3
        )
    assert [i.path for i in e.value.issues] == ["metrics[1]", "metrics[2]"]


def test_distinct_names_give_distinct_columns():
    out = build_metrics(
        [{"type": "auc"}, {"type": "auc", "curve": "PR", "name": "pr_auc"}], "binary", 1
    )
    assert list(out) == ["auc", "pr_auc"]
    assert [m.curve for m in out.values()] == ["ROC", "PR"]


SPEC = """\
data: {{dataset: {{type: moons, n_samples: 40}}, validation_split: 0.25}}
model:
  input_shape: [2]
  layers: [{{type: dense, units: 1, activation: sigmoid}}]
loss: binary_crossentropy
metrics:
{metrics}
epochs: 2
batch_size: 8
"""


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_validate_cites_the_metric_line(write_spec):
    path = write_spec(SPEC.format(metrics="  - auc\n  - {type: recall, class_id: 1}"))
    result = cli("validate", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:8:20: metrics[1].class_id: class_id 1 is past the "
        "model's 1 output unit(s) (0 to 0)"
    ]


@pytest.mark.parametrize(
    "name, words",
    [("loss", "is taken"), ("val_auc", "is taken"), ("my auc", "pattern")],
)
def test_names_that_would_clash_with_columns(write_spec, name, words):
    path = write_spec(SPEC.format(metrics=f"  - {{type: auc, name: {name}}}"))
    result = cli("validate", path)
    assert result.exit_code == 2
    assert "metrics[0].name" in result.stderr and words in result.stderr


def test_named_metrics_are_columns_of_a_run(write_spec, tmp_path):
    path = write_spec(
        SPEC.format(
            metrics="  - auc\n  - {type: auc, curve: PR, name: pr_auc}\n"
            "  - precision\n  - recall\n  - f1\n  - rmse\n  - r2"
        )
    )
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    names = ["auc", "pr_auc", "precision", "recall", "f1_score"]
    names += ["root_mean_squared_error", "r2_score"]
    for key in names:
        assert 0 <= out["metrics"][key] <= 1 or key == "r2_score"
        assert f"val_{key}" in out["metrics"]
    summary = json.loads(
        (tmp_path / "runs").glob("*/summary.json").__next__().read_text()
    )
    assert summary["metric_kinds"]["pr_auc"] == "auc"


def test_gates_refuse_a_floor_on_a_lower_is_better_metric():
    values = {"loss": 0.3, "err": 0.2, "auc": 0.9}
    directions = {"loss": "down", "err": "down", "auc": "up"}
    with pytest.raises(SpecError, match="better when lower"):
        check_gates(values, {"err": 0.1}, None, directions)
    assert check_gates(values, {"auc": 0.95}, {"err": 0.1}, directions) == [
        "quality gate failed: auc = 0.900000 < 0.95",
        "quality gate failed: err = 0.200000 > 0.1",
    ]

"""Learning-rate schedules: Keras golden values, validation, and statelessness.

Golden: tests/fixtures/golden/keras_schedules.* (tests/golden/keras_schedules.py),
float64 rtol 1e-12 (both sides evaluate the same closed forms in float64).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_keras_golden
from pydantic import ValidationError

from nncli.engine.schedules import schedules

ARR, META = load_keras_golden("schedules")


@pytest.mark.parametrize("case", sorted(META["cases"]))
def test_schedule_matches_keras(case):
    schedule = schedules.create(META["cases"][case]["nncli"])
    got = np.array([schedule(int(s)) for s in ARR["steps"]])
    np.testing.assert_allclose(got, ARR[f"{case}__lr"], rtol=1e-12, atol=1e-15)


def test_every_schedule_has_a_golden_case():
    covered = {schedules.canonical(c["nncli"]["type"]) for c in META["cases"].values()}
    assert covered == set(schedules.names())


def test_schedules_depend_only_on_the_step():
    """No hidden state: evaluating out of order gives the same values (resume)."""
    for case in META["cases"].values():
        schedule = schedules.create(case["nncli"])
        forward = [schedule(s) for s in range(0, 300, 7)]
        backward = [schedule(s) for s in reversed(range(0, 300, 7))][::-1]
        assert forward == backward


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (
            {
                "type": "exponential_decay",
                "initial_learning_rate": 0.1,
                "decay_steps": 0,
                "decay_rate": 0.5,
            },
            "greater than 0",
        ),
        (
            {"type": "piecewise_constant_decay", "boundaries": [10], "values": [1.0]},
            "at least 2",
        ),
        (
            {
                "type": "piecewise_constant_decay",
                "boundaries": [10, 20],
                "values": [1.0, 0.5],
            },
            "one entry more",
        ),
        (
            {
                "type": "piecewise_constant_decay",
                "boundaries": [20, 10],
                "values": [1.0, 0.5, 0.1],
            },
            "strictly increasing",
        ),
        (
            {
                "type": "cosine_decay",
                "initial_learning_rate": 0.1,
                "decay_steps": 10,
                "alpha": 2.0,
            },
            "less than or equal to 1",
        ),
        (
            {
                "type": "polynomial_decay",
                "initial_learning_rate": -1.0,
                "decay_steps": 10,
            },
            "greater than or equal to 0",
        ),
    ],
)
def test_invalid_settings_are_refused(cfg, message):
    with pytest.raises(ValidationError, match=message):
        schedules.get(cfg["type"]).Config(**cfg)

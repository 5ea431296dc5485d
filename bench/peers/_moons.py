"""The seed job's data without nncli: 1,000 two-moons points, noise 0.2, a
shuffled 20% validation split (the construction nncli and scikit-learn use)."""

import numpy as np


def moons(n: int = 1000, noise: float = 0.2, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_out, n_in = n // 2, n - n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
            np.stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    x = x + rng.normal(scale=noise, size=x.shape)
    order = rng.permutation(n)
    x, y = x[order].astype(np.float32), y[order].astype(np.float32)[:, None]
    cut = int(n * 0.8)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])

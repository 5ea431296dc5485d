"""The engine: layers, losses, optimizers... on an array-module handle (xp).

Importing this package registers every built-in name.
"""

from nncli.engine import (  # noqa: F401
    activations,
    constraints,
    conv,
    initializers,
    layers,
    losses,
    metrics,
    noise,
    optimizers,
    pooling,
    regularizers,
    reshaping,
)

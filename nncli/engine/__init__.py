"""The engine: layers, losses, optimizers... on an array-module handle (xp).

Importing this package registers every built-in name.
"""

from nncli.engine import (  # noqa: F401
    activations,
    constraints,
    conv,
    embedding,
    initializers,
    layers,
    losses,
    metrics,
    noise,
    normalization,
    optimizers,
    pooling,
    recurrent,
    regularizers,
    reshaping,
)

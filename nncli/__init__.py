"""nncli: train neural networks from one YAML spec."""

__version__ = "0.1.0"

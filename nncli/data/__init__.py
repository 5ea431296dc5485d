"""Data: loaders for CSV/NPZ files and the datasets that ship with nncli."""

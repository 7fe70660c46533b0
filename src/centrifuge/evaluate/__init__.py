"""Evaluation experiments; one module per family, each printing a table and writing JSON."""

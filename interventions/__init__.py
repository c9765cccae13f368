"""The intervention library: plans keyed to client goals, stored as validated TOML data files.

A library: it never imports `textual` or `companion`.
"""

"""Baseline servers the bench compares Grover with; each runs as its own
process: ``python -m bench.baselines.bare_ws --port N``."""

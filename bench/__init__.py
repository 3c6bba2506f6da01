"""Grover's load generator and side-by-side baselines.

``python -m bench --suite standard`` starts each target server pinned to one
core, drives it from a generator process pinned to the other, and writes
``bench/results/latest.{json,md,png}``. See ``bench/README.md``.
"""

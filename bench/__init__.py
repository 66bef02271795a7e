"""Benchmarks against this machine's physical limits: `python -m bench` (see bench/README.md)."""

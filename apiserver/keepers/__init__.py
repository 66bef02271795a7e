"""Keeper backends: clients of external secret stores (AWS Secrets Manager), free of our store.

The services decide what to keep where; a backend only talks to its provider and reports
failures as the typed errors of `errors.py`.
"""

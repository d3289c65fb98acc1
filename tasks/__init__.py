"""Prefect task wrappers per plan stage, with pure domain logic in `domain` and I/O in `adapters`."""

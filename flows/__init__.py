"""Prefect flows, one per plan stage, the campaign flow, and the `rcoi` command line."""

"""Prefect task wrappers per plan stage; pure logic lives in `domain`, I/O in `adapters`."""

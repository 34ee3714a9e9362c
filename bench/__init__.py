"""Benchmarks (`python -m bench.<name>`), run by `make bench`; not part of the service."""

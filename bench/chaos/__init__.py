"""Chaos figures (issue 11): `make chaos` or `python -m bench.chaos [name ...]`.

Each module here measures one fault against real processes and prints its
figures: what the fault did to users, with a baseline from the same run.
A module is a scenario with a `main() -> None`; this package runs them in order.
"""

"""Benchmarks of the dispatch server, run from the project root as `python -m bench.<name>`."""

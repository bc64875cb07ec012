"""Benchmarks run by `make bench`; each `bench_*.py` module is one benchmark with a `main()`."""

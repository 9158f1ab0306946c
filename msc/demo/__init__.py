"""Deterministic, realistic synthetic data for demonstrations, tests and benchmarks."""

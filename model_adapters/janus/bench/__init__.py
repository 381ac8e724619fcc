"""Janus's benchmarks (`janus-eval bench generate|understand`, registered by ../bench_cli.py):
our decode engine's speed at real shapes against its bandwidth floor and the transformers /
upstream baselines."""

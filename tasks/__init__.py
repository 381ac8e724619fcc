"""Benchmarks shipped with janus-eval (installed as `janus_eval.tasks`)."""

"""Benchmarks (`janus-eval bench ...`): speed and memory against anchors measured in the same run."""

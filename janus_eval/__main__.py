"""`python -m janus_eval ...` (what `torchrun -m janus_eval run ...` starts on every rank)."""

from janus_eval.cli import main

main()

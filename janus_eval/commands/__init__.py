"""The core's `janus-eval` commands, one module per subject (running, the catalogue of tasks and
models, reports). Each is a plain typer-annotated function; janus_eval/cli.py attaches them, and
imports nothing heavy (torch, numpy) until a command runs, so `--help` stays fast."""

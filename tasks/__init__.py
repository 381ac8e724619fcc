"""Benchmarks shipped with janus-eval (installed as `janus_eval.tasks`)."""

#: Modules that contribute CLI commands (registry.register_command): `janus-eval --help` imports
#: only these, not every task.
COMMAND_MODULES = ("geneval_score",)

"""Model adapters shipped with janus-eval (installed as `janus_eval.model_adapters`)."""

#: Modules that contribute CLI commands (registry.register_command): `janus-eval --help` imports
#: only these, not every adapter.
COMMAND_MODULES = ("janus.bench_cli",)

"""Model adapters shipped with janus-eval (installed as `janus_eval.model_adapters`)."""

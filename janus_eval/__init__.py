"""janus-eval: one harness for both halves of unified multimodal models."""

__version__ = "0.1.0"

"""janus-eval's own JanusFlow implementation (`janusflow`, `janusflow-tiny` adapters).

Importing this package is cheap: it registers the adapters; torch and the model code load when
an adapter first needs them.
"""

from . import adapter as adapter  # noqa: F401  (registers the adapters)

"""janus-eval's own Janus implementation (`janus`, `janus-tiny` adapters).

Importing this package is cheap: it registers the adapters; torch and the model code load when
an adapter first needs them.
"""

from . import adapter as adapter  # noqa: F401  (registers the adapters)
from . import bench_cli as bench_cli  # noqa: F401  (registers `janus-eval bench generate|understand`)

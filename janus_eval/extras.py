"""Optional dependencies, and the one message a user sees when one is missing.

Some adapters need a library most users do not (diffusers for the `diffusers` adapter and
JanusFlow's VAE). Such libraries are optional extras of the distribution, and an adapter checks
for its extra before doing anything, so a missing one is a single line saying what to install,
exit status 2, not an ImportError deep inside a run.
"""

from __future__ import annotations

import importlib.util

from janus_eval.types import UserError


def require(module: str, extra: str, needed_for: str) -> None:
    """Raise a UserError naming the extra to install when `module` cannot be imported.

    Only looks the module up (no import), so it is cheap enough for an adapter's constructor."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-installed package
        found = False
    if not found:
        raise UserError(
            f"{needed_for} needs the Python package {module!r}, which is not installed. "
            f"Install janus-eval's optional extra {extra!r}: pip install 'janus-eval[{extra}]' "
            f"(or, in a checkout, pip install -e '.[{extra}]')"
        )

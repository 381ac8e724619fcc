"""The time a report says it was generated, reproducibly.

Honours `SOURCE_DATE_EPOCH` (https://reproducible-builds.org/specs/source-date-epoch/): when it is
set, every report written in that process carries that time instead of the clock's, so the same
runs give byte-identical files (`janus-eval publish` sets it to the newest run's finish time).
"""

from __future__ import annotations

import datetime as _dt
import os

from janus_eval.types import UserError

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


def generated_at() -> str:
    """ISO-8601 UTC time, to the second: SOURCE_DATE_EPOCH when set, else now."""
    text = os.environ.get(SOURCE_DATE_EPOCH)
    if text is None or not text.strip():
        stamp = _dt.datetime.now(_dt.timezone.utc)
    else:
        try:
            stamp = _dt.datetime.fromtimestamp(int(text), _dt.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise UserError(
                f"{SOURCE_DATE_EPOCH}={text!r}: expected whole seconds since 1970-01-01 UTC "
                "(e.g. $(git log -1 --format=%ct)), or unset it"
            ) from None
    return stamp.isoformat(timespec="seconds")

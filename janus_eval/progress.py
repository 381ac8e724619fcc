"""A rich progress bar over a run's samples: the count, the rate of samples computed now (those
reused from disk arrive at once and would inflate it), elapsed time and an ETA. Disabled, it is
a no-op, so library callers and tests pay nothing."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(description: str, total: int, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task_id = bar.add_task(description, total=total, rate="")
        t0, first = time.perf_counter(), [True]
        done = [0]

        def advance(n: int) -> None:
            if first[0]:  # samples reused from disk do not count towards the rate
                first[0] = False
                bar.update(task_id, advance=n)
                nonlocal t0
                t0 = time.perf_counter()
                return
            done[0] += n
            rate = done[0] / max(time.perf_counter() - t0, 1e-9)
            bar.update(task_id, advance=n, rate=f"{rate:.2f} samples/s")

        yield advance

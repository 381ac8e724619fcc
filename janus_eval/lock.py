"""One writer per run directory: advisory locks (flock) held for the whole run.

The same command started twice into one output folder would otherwise compute everything twice
and append duplicate keys; a `--no-resume` would move results aside under a run that is still
writing them. The locks are hidden files in the run directory, which stays where it is
(`--no-resume` moves its contents aside, never the lock files):

* `.lock`: an unsharded run holds it exclusively. Slices (`--shard I/N`, torchrun ranks) share
  it, so slices run side by side but never beside an unsharded run.
* `.shard-I-of-N.lock`: each slice holds its own exclusively.

A holder writes its pid, host and command into the file it holds exclusively, so the process
that is refused can name it. The kernel drops a lock when its process dies (SIGKILL included),
so a lock left by a dead process is simply taken over. On a file system without flock support
the run goes ahead with a warning.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from janus_eval.failures import writing
from janus_eval.types import UserError

log = logging.getLogger("janus_eval")

#: The end of the refusal message, for a resuming run (True) and for --no-resume (False).
LOCK_ADVICE = {
    True: "Wait for it to finish (or stop it), then run this command again: it resumes.",
    False: "--no-resume would move its results aside while it writes them; wait for it to "
    "finish (or stop it) and run this command again.",
}
#: How long a slice waits for another slice's brief exclusive hold (its clean-up) to end.
SHARED_WAIT_S = 10.0


#: Names of the lock files in a run directory (never moved aside, never swept).
LOCK_FILES = re.compile(r"\.lock|\.shard-\d+-of-\d+\.lock")


@contextlib.contextmanager
def run_lock(
    run_dir: Path,
    shard: tuple[int, int] | None,
    *,
    while_alone: Callable[[], None] = lambda: None,
    purpose: str = "",
) -> Iterator[None]:
    """Create the run directory and hold its locks for the block. `while_alone` runs while no
    other process holds any lock of this run (always for an unsharded run; for a slice when it
    is the first to arrive): the moment to set results aside or to clean up after interrupted
    writes. `purpose` ends the refusal message."""
    folder = Path(run_dir)
    with writing(folder, hint="or choose another --output-dir"):
        folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        run_fd = stack.enter_context(_opened(folder / ".lock"))
        if shard is None:
            if not _try(run_fd, fcntl.LOCK_EX):
                raise _refusal(folder, purpose)
            _write_holder(run_fd, None)
            while_alone()
        else:
            if _try(run_fd, fcntl.LOCK_EX):
                _write_holder(run_fd, shard)
                while_alone()
            if not _wait_shared(run_fd):
                raise _refusal(folder, purpose)
            own_fd = stack.enter_context(_opened(_shard_lock(folder, shard)))
            if not _try(own_fd, fcntl.LOCK_EX):
                raise _refusal(folder, purpose, shard=shard)
            _write_holder(own_fd, shard)
        yield


def _shard_lock(folder: Path, shard: tuple[int, int]) -> Path:
    return folder / f".shard-{shard[0]}-of-{shard[1]}.lock"


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[int]:
    """An fd on the lock file; closing it unlocks."""
    with writing(path, hint="or choose another --output-dir"):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        yield fd
    finally:
        os.close(fd)


_warned = False


def _try(fd: int, mode: int) -> bool:
    """Take the lock without waiting; False when another process holds it."""
    global _warned
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise
        if not _warned:
            log.warning("this file system cannot lock files: runs into one directory at the "
                        "same time are not detected here")  # fmt: skip
            _warned = True
        return True


def _wait_shared(fd: int) -> bool:
    """A shared hold, waiting out another slice's brief exclusive one (whoever holds the lock
    exclusively wrote itself into the file); an unsharded run keeps it for the whole run, so
    for that one (and after SHARED_WAIT_S for anyone) we give up."""
    deadline = time.monotonic() + SHARED_WAIT_S
    while not _try(fd, fcntl.LOCK_SH):
        holder = _holder(fd)
        if (holder and holder.get("shard") is None) or time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _write_holder(fd: int, shard: tuple[int, int] | None) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        "shard": list(shard) if shard else None,
        "command": " ".join(sys.argv),
    }
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)


def _holder(fd: int) -> dict | None:
    try:
        data = os.pread(fd, 1 << 16, 0)
        info = json.loads(data) if data else None
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _describe(info: dict | None) -> str:
    if not info:
        return "another janus-eval process"
    what = f"pid {info.get('pid')} on host {info.get('host')}"
    if info.get("shard"):
        what += f" (slice {info['shard'][0]}/{info['shard'][1]})"
    return f"{what}, running since {info.get('since')}: {info.get('command')}"


def _live_holders(folder: Path) -> list[dict | None]:
    """Who holds this run's locks now: the unsharded holder, or every slice holding its own."""
    holders: list[dict | None] = []
    with _opened(folder / ".lock") as fd:
        if not _try(fd, fcntl.LOCK_SH):  # held exclusively: by an unsharded run
            return [_holder(fd)]
    for path in sorted(folder.glob(".shard-*.lock")):
        with _opened(path) as fd:
            if not _try(fd, fcntl.LOCK_EX):
                holders.append(_holder(fd))
    return holders or [None]


def _refusal(folder: Path, purpose: str, *, shard: tuple[int, int] | None = None) -> UserError:
    if shard is not None:
        with _opened(_shard_lock(folder, shard)) as fd:
            holders = [_holder(fd)]
    else:
        holders = _live_holders(folder)
    what = f"slice {shard[0]}/{shard[1]} of {folder}" if shard else str(folder)
    return UserError(
        f"{what} is in use by {'; '.join(_describe(h) for h in holders)}. "
        f"{purpose or 'Wait for it to finish (or stop it) and run this command again.'}"
    )

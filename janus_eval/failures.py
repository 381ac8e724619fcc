"""How a run fails: write failures and interrupts become one message and an exit status.

A full disk, a read-only folder or Ctrl-C are not bugs, so they never show a traceback:

* `writing(path)` turns the OSError of a write (permission, read-only file system, disk full,
  quota, file-size limit) into `WriteFailed`, a UserError naming the file, the cause and the
  fix (exit status 2).
* `install_signal_handlers()` makes SIGINT and SIGTERM raise `Interrupted` (exit 130 / 143).
  It is a BaseException that is not a KeyboardInterrupt, so click's own Ctrl-C handling
  ("Aborted!", exit 1) does not swallow it on the way out.
* `reporting(run_dir)` wraps the part of a run that writes into `run_dir`: an interrupt or a
  write failure that passes through it learns how many results the directory holds, so the
  message can say that they are kept and whether re-running resumes.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from janus_eval.types import UserError

_ADVICE = {
    errno.EACCES: "make it writable (check the permissions and owner of the file and its folder)",
    errno.EPERM: "make it writable (check the permissions and owner of the file and its folder)",
    errno.EROFS: "the file system is read-only; use a writable location",
    errno.ENOSPC: "the disk is full; free some space",
    errno.EDQUOT: "the disk quota is used up; free some space or raise the quota",
    errno.EFBIG: "the file would exceed the file-size limit (ulimit -f); raise the limit",
}
#: errno values a write can fail with that the user, not janus-eval, has to fix.
WRITE_ERRNOS = frozenset(_ADVICE)


class BatchFailed(RuntimeError):
    """A batch raised an unforeseen error; everything stored before it is safe on disk."""


class WriteFailed(UserError):
    """Writing `path` failed for a reason the user can fix; `notes` say what is kept."""

    def __init__(self, path: Path | str, cause: OSError, hint: str = "") -> None:
        self.path = Path(path)
        self.cause = cause
        advice = _ADVICE.get(cause.errno or 0, "check the location is writable")
        super().__init__(
            f"cannot write {self.path}: {cause_text(cause)}; {advice}"
            + (f" {hint}" if hint.startswith("or ") else f"; {hint}" if hint else "")
            + "."
        )
        self.notes: list[str] = []

    def __str__(self) -> str:
        return " ".join([super().__str__(), *self.notes])


def cause_text(exc: OSError) -> str:
    """'No space left on device (ENOSPC)'."""
    name = errno.errorcode.get(exc.errno or 0)
    return f"{exc.strerror or exc} ({name})" if name else str(exc)


@contextlib.contextmanager
def writing(path: Path | str, *, hint: str = "") -> Iterator[None]:
    """Any OSError raised inside becomes a WriteFailed naming `path`."""
    try:
        yield
    except WriteFailed:
        raise
    except OSError as exc:
        raise WriteFailed(path, exc, hint) from exc


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. `run_dir` and `stored` are filled in on the way out of the
    run that was writing, so the message can say what is kept."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.run_dir: Path | None = None
        self.stored = 0

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        if self.run_dir is None:  # before a run started writing, or between two tasks
            return (
                "interrupted (no run was writing); stored results are kept; run the same "
                "command to resume"
            )
        return (
            f"interrupted: {self.stored} results stored in {self.run_dir}; run the same command "
            "to resume"
        )


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """Ctrl-C and SIGTERM raise `Interrupted` from here on (CLI only; the Python API keeps
    Python's KeyboardInterrupt)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupted)


def ignore_signals() -> None:
    """While the final message prints and the process exits, a second Ctrl-C changes nothing."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def reporting(run_dir: Path) -> Iterator[None]:
    """Tell interrupts and write failures leaving this block how many results `run_dir` holds."""
    from janus_eval.store import count_stored

    try:
        yield
    except Interrupted as exc:
        if exc.run_dir is None:
            exc.run_dir, exc.stored = run_dir, count_stored(run_dir)
        raise
    except WriteFailed as exc:
        if not exc.notes:
            exc.notes.append(
                f"{count_stored(run_dir)} result(s) stored in {run_dir} are kept; once it is "
                "fixed, run the same command to resume."
            )
        raise


def run_main(
    app: Callable[[], object], say: Callable[[str, str], None], argv: Sequence[str]
) -> None:
    """Run the CLI app and turn how it ended into one message and an exit status: bad input and
    write failures 2, a failed batch 1, SIGINT 130, SIGTERM 143; never a traceback unless -v
    asks for the chained cause. `say(label, text)` prints one message; `label` is "" for plain
    notices, else "error" or "run failed"."""
    verbose = "-v" in argv or "--verbose" in argv
    install_signal_handlers()
    try:
        app()
    except Interrupted as exc:
        ignore_signals()
        say("", exc.message())
        sys.exit(exc.exit_status)
    except KeyboardInterrupt:
        ignore_signals()
        say("", "interrupted; results stored so far are kept (run the same command to resume)")
        sys.exit(130)
    except UserError as exc:
        say("error", str(exc))
        if exc.__cause__ is not None and verbose:
            raise
        sys.exit(2)
    except BatchFailed as exc:
        say("run failed", str(exc))
        if verbose:
            raise
        sys.exit(1)
    except OSError as exc:  # a write no `writing` block wraps: still the user's to fix
        if exc.errno not in WRITE_ERRNOS or verbose:
            raise
        say("error", str(WriteFailed(exc.filename or "a file", exc)))
        sys.exit(2)

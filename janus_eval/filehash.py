"""The sha256 of a file's content, read once and then remembered.

Run ids and weight fingerprints must follow what files hold, never where they lie: the same
data under another mount point is the same data, and an image edited in place is not. Only
reading a file tells its content, so each digest is kept under `$JANUS_EVAL_CACHE/filehash/`
(one small JSON file per directory) and reused while the file's (size, mtime_ns, ctime_ns,
inode) are unchanged. An edit in place changes mtime and ctime (ctime cannot be set back by
ordinary tools), a replacement changes the inode, and either only costs one more read. A copy
of the data elsewhere is new to the cache and is read once there.

Cost (docs/REPORTS.md, "Data identity", has the measurements): the first run reads every file
once, at disk or sha256 speed, on threads; a later run stats each file instead. Files in a
Hugging Face hub cache's `blobs/` folder are named by their sha256 already and are never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from janus_eval.cache import cache_dir

_BLOB = re.compile(r"[0-9a-f]{64}")


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


class FileDigests:
    """sha256 digests of files, from the persistent cache where it is still valid.

    Use one instance for a batch of files and call `save()` at the end (the CLI does it once per
    run, not once per file). Hashing of many files runs on threads: hashlib and file reads
    release the GIL."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir("filehash")
        self._dirs: dict[str, dict[str, list]] = {}
        self._dirty: set[str] = set()

    # -- one file -------------------------------------------------------------------------------
    def sha256(self, path: str | Path) -> str:
        """The file's sha256 (hex). OSError when it cannot be read."""
        where, digest = self._lookup(path)
        return digest if digest is not None else self._compute(where)

    def _lookup(self, path: str | Path) -> tuple[tuple[str, str, list[int]], str | None]:
        """((folder, name, stamp), the digest when it is known and still valid)."""
        path = os.path.abspath(path)
        folder, name = os.path.split(path)
        if os.path.islink(path):
            real = os.path.realpath(path)
            if _BLOB.fullmatch(os.path.basename(real)) and "blobs" in Path(real).parts:
                return (folder, name, []), os.path.basename(real)
        stamp = _stamp(os.stat(path))
        known = self._entries(folder).get(name)
        hit = known is not None and known[:4] == stamp
        return (folder, name, stamp), known[4] if hit else None

    def _compute(self, where: tuple[str, str, list[int]]) -> str:
        folder, name, stamp = where
        digest = _read_sha256(os.path.join(folder, name))
        self._entries(folder)[name] = [*stamp, digest]
        self._dirty.add(folder)
        return digest

    # -- many files -----------------------------------------------------------------------------
    def many(self, paths: Iterable[str | Path], workers: int | None = None) -> dict[str, str]:
        """{path as given (str): sha256} for every distinct path. Known files cost a stat;
        the others are read on `workers` threads."""
        out: dict[str, str] = {}
        misses: dict[str, tuple[str, str, list[int]]] = {}
        for path in dict.fromkeys(str(p) for p in paths):
            where, digest = self._lookup(path)
            if digest is None:
                misses[path] = where
            else:
                out[path] = digest
        workers = workers or min(8, os.cpu_count() or 1, len(misses))
        if workers <= 1:
            out.update({p: self._compute(w) for p, w in misses.items()})
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="janus-eval-hash") as pool:
                out.update(zip(misses, pool.map(self._compute, misses.values())))
        return out

    # -- the cache ------------------------------------------------------------------------------
    def _file_for(self, folder: str) -> Path:
        return self.root / (hashlib.sha256(folder.encode()).hexdigest()[:32] + ".json")

    def _entries(self, folder: str) -> dict[str, list]:
        if folder not in self._dirs:
            self._dirs[folder] = self._load(folder)
        return self._dirs[folder]

    def _load(self, folder: str) -> dict[str, list]:
        try:
            data = json.loads(self._file_for(folder).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("dir") != folder:
            return {}
        files = data.get("files")
        return dict(files) if isinstance(files, dict) else {}

    def save(self) -> None:
        """Write what was learnt. Entries another process saved meanwhile are kept (merged,
        then replaced atomically); a cache that cannot be written is skipped silently, since
        it only saves time."""
        for folder in sorted(self._dirty):
            merged = {**self._load(folder), **self._dirs[folder]}
            target = self._file_for(folder)
            tmp = None
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".filehash-", suffix=".tmp")
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"dir": folder, "files": merged}, fh, separators=(",", ":"))
                os.replace(tmp, target)
            except OSError:
                if tmp is not None:
                    Path(tmp).unlink(missing_ok=True)
        self._dirty.clear()


def file_sha256(path: str | Path) -> str:
    """One file's sha256 through the persistent cache."""
    digests = FileDigests()
    try:
        return digests.sha256(path)
    finally:
        digests.save()

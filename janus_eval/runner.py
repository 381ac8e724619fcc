"""The loop that turns samples into stored, scored results.

It keys every request (task identity, sample id, the sample's data id, request, seed, model
description; images by content, never by path: janus_eval.identity), skips keys already stored, batches the rest through the adapter, scores each batch and appends it to the
store before starting the next. A crash therefore costs at most one batch; a re-run with the same
arguments computes only what is missing, and aggregates over exactly the same stored results.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from janus_eval.identity import DataIdentity
from janus_eval.images import load_image
from janus_eval.provenance import stable_hash
from janus_eval.store import RunStore, atomic_save_image
from janus_eval.types import ImageRequest, Request, Sample, Task, UnderstandRequest, UserError

log = logging.getLogger("janus_eval")


class BatchFailed(RuntimeError):
    """A batch raised; everything stored before it is safe on disk."""


@dataclass
class WorkItem:
    index: int
    sample: Sample
    request: Request
    key: str
    #: The sample's data id (janus_eval.identity): stored with its result, compared by `compare`.
    data_id: str = ""


@dataclass
class ExecutionStats:
    computed: int = 0
    reused: int = 0
    images_reused: int = 0
    inference_s: float = 0.0
    scoring_s: float = 0.0
    batches: int = 0
    repaired_lines: int = 0


def result_key(
    task_config: dict,
    sample: Sample,
    request: Request,
    seed: int,
    model_desc: dict,
    ids: DataIdentity | None = None,
) -> str:
    """Everything that changes this sample's result. The sample's data is in it too (an edited
    label or GenEval `include` with an unchanged prompt must not reuse the old score), and images
    count by content: the same data under another path gives the same key."""
    ids = ids or DataIdentity()
    context = _context(task_config, seed, model_desc)
    return _key(context, sample.id, ids.sample_id(sample, request), ids.request_view(request))


def _context(task_config: dict, seed: int, model_desc: dict) -> str:
    """What every key of a run shares, hashed once (not once per sample)."""
    return stable_hash({"task": task_config, "seed": seed, "model": model_desc}, length=32)


def _key(context: str, sample_id: str, data_id: str, request_view: dict) -> str:
    return stable_hash(
        {"run": context, "sample": sample_id, "data": data_id, "request": request_view}, 32
    )


def shard_of(sample_id: str, num_shards: int) -> int:
    """Shards split by sample id (not position), so a sample's shard never depends on order."""
    return int(stable_hash(sample_id, 8), 16) % num_shards


def plan_work(
    task: Task,
    samples: Sequence[Sample],
    seed: int,
    model_desc: dict,
    ids: DataIdentity | None = None,
) -> list[WorkItem]:
    """One keyed request per sample. Image requests get the run seed: image k of sample s then
    draws from a stream fixed by (seed, s, k) alone. Every image file is hashed first, on
    threads and through the persistent digest cache (janus_eval.filehash)."""
    ids = ids or DataIdentity()
    context = _context(task.identity(), seed, model_desc)
    requests = []
    seen: dict[str, int] = {}
    for index, sample in enumerate(samples):
        if sample.id in seen:
            raise UserError(
                f"task {task.name!r}: sample id {sample.id!r} appears twice (records "
                f"{seen[sample.id]} and {index}); ids must be unique. Check the data files for "
                "duplicated records."
            )
        seen[sample.id] = index
        request = task.request(sample)
        if isinstance(request, ImageRequest):
            request = dataclasses.replace(request, seed=seed, request_id=sample.id)
        requests.append(request)
    ids.prepare(samples, requests)
    items = []
    for index, (sample, request) in enumerate(zip(samples, requests)):
        data_id = ids.sample_id(sample, request)
        key = _key(context, sample.id, data_id, ids.request_view(request))
        items.append(WorkItem(index, sample, request, key, data_id))
    return items


def _batches(items: Sequence[WorkItem], size: int) -> Iterator[list[WorkItem]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _by_length(items: Sequence[WorkItem]) -> list[WorkItem]:
    """Understanding requests sorted by size (images, then prompt length), so a batch pads
    little; answers do not depend on batch composition, so only speed changes."""
    if not items or not isinstance(items[0].request, UnderstandRequest):
        return list(items)
    return sorted(items, key=lambda it: (len(it.request.images), len(it.request.prompt)))


class _Prefetcher:
    """Decodes the next batch's images on worker threads while the model runs the current one.

    Threads, not processes: PIL releases the GIL while decoding and resizing, and decoded images
    then need no pickling between processes."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or min(8, os.cpu_count() or 1)

    def __enter__(self) -> _Prefetcher:
        self.batch_pool = ThreadPoolExecutor(1, thread_name_prefix="janus-eval-prefetch")
        self.decode_pool = ThreadPoolExecutor(self.workers, thread_name_prefix="janus-eval-decode")
        return self

    def __exit__(self, *exc: object) -> None:
        self.batch_pool.shutdown(wait=True, cancel_futures=True)
        self.decode_pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, batch: list[WorkItem]) -> Future:
        return self.batch_pool.submit(self._load, batch)

    def _load(self, batch: list[WorkItem]) -> list[tuple[WorkItem, Request]]:
        out = []
        for it in batch:
            req = it.request
            if isinstance(req, UnderstandRequest) and req.images:
                decode = functools.partial(load_image, what=f"sample {it.sample.id!r}: image")
                images = tuple(self.decode_pool.map(decode, req.images))
                req = dataclasses.replace(req, images=images)
            out.append((it, req))
        return out


class Runner:
    """Drives one task against one adapter into one store."""

    def __init__(
        self,
        task: Task,
        adapter: Any,
        store: RunStore,
        *,
        batch_size: int = 8,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.task = task
        self.adapter = adapter
        self.store = store
        self.batch_size = batch_size
        self.progress = progress or (lambda n: None)

    def run(self, items: Sequence[WorkItem]) -> tuple[dict[str, dict], ExecutionStats]:
        stats = ExecutionStats()
        stored = self.store.load()
        stats.repaired_lines = self.store.repaired_lines
        if stats.repaired_lines:
            log.warning(
                "discarded %d truncated line(s) at the end of %s; recomputing them",
                stats.repaired_lines,
                self.store.path.name,
            )
        todo = [it for it in items if it.key not in stored]
        stats.reused = len(items) - len(todo)
        if stats.reused:
            log.info(
                "resuming: %d of %d samples already stored in %s; computing %d",
                stats.reused,
                len(items),
                self.store.run_dir,
                len(todo),
            )
        self.progress(stats.reused)
        batches = list(_batches(_by_length(todo), self.batch_size))
        with _Prefetcher() as prefetch:
            upcoming = prefetch.submit(batches[0]) if batches else None
            for number, batch in enumerate(batches):
                try:
                    assert upcoming is not None
                    ready = upcoming.result()
                    if number + 1 < len(batches):  # decode the next batch while this one runs
                        upcoming = prefetch.submit(batches[number + 1])
                    records = self._run_batch(ready, stats)
                except UserError as exc:
                    raise UserError(f"{exc}\n({self._stored_note(stats)})") from None
                except KeyboardInterrupt:
                    raise
                except Exception as exc:
                    raise BatchFailed(
                        f"batch of samples {batch[0].sample.id!r}..{batch[-1].sample.id!r} "
                        f"failed: {type(exc).__name__}: {exc}. {self._stored_note(stats)}"
                    ) from exc
                self.store.append(records)
                for record in records:
                    stored[record["key"]] = record
                stats.computed += len(batch)
                stats.batches += 1
                self.progress(len(batch))
        return stored, stats

    def _stored_note(self, stats: ExecutionStats) -> str:
        done = stats.reused + stats.computed
        return (
            f"{done} result(s) are stored in {self.store.run_dir}; re-run the same command to "
            "resume from there"
        )

    def _run_batch(
        self, batch: list[tuple[WorkItem, Request]], stats: ExecutionStats
    ) -> list[dict[str, Any]]:
        """`batch` pairs each work item with the request the adapter gets (images decoded)."""
        t0 = time.perf_counter()
        loaded = [req for _, req in batch]
        batch_items = [it for it, _ in batch]
        if isinstance(loaded[0], UnderstandRequest):
            responses: list[Any] = list(self.adapter.understand(loaded))
            image_paths: list[list[str] | None] = [None] * len(batch)
        else:
            responses, image_paths = self._generate(batch_items, stats)
        if len(responses) != len(batch):
            raise RuntimeError(
                f"adapter returned {len(responses)} answers for {len(batch)} requests"
            )
        t1 = time.perf_counter()
        scores = self.task.score_batch([it.sample for it in batch_items], responses)
        t2 = time.perf_counter()
        stats.inference_s += t1 - t0
        stats.scoring_s += t2 - t1
        per_sample = (t2 - t0) / len(batch)
        return [
            {
                "key": it.key,
                "id": it.sample.id,
                "index": it.index,
                "category": it.sample.category,
                "data": it.data_id,
                "request": it.request.summary(),
                "response": response if isinstance(response, str) else None,
                "images": paths,
                "scores": score,
                "elapsed_s": round(per_sample, 6),
            }
            for it, response, paths, score in zip(batch_items, responses, image_paths, scores)
        ]

    def _generate(
        self, batch: list[WorkItem], stats: ExecutionStats
    ) -> tuple[list[list[Any]], list[list[str] | None]]:
        """Generate only the images not already on disk (resume works image by image: PNGs are
        written atomically, and their seeds depend on (seed, sample, k) alone)."""
        images_dir = self.store.images_dir
        save = self.task.saves_images()
        wanted: list[tuple[WorkItem, ImageRequest, dict[int, Any]]] = []
        for it in batch:
            req = it.request
            assert isinstance(req, ImageRequest)
            have = {}
            for k in req.indices if save else ():
                path = images_dir / self.task.image_relpath(it.sample, k)
                if path.is_file():
                    have[k] = load_image(path, what=f"stored image {path}")
            stats.images_reused += len(have)
            missing = tuple(k for k in req.indices if k not in have)
            wanted.append((it, dataclasses.replace(req, image_indices=missing), have))
        to_make = [(i, req) for i, (_, req, _) in enumerate(wanted) if req.indices]
        made = self.adapter.generate_images([req for _, req in to_make]) if to_make else []
        if len(made) != len(to_make):
            raise RuntimeError(
                f"adapter returned {len(made)} image lists for {len(to_make)} requests"
            )
        for (i, req), images in zip(to_make, made):
            if len(images) != len(req.indices):
                raise RuntimeError(
                    f"adapter returned {len(images)} images, {len(req.indices)} were asked for"
                )
            it, _, have = wanted[i]
            for k, image in zip(req.indices, images):
                if save:
                    atomic_save_image(image, images_dir / self.task.image_relpath(it.sample, k))
                have[k] = image
        responses, paths = [], []
        for it, _, have in wanted:
            ks = it.request.indices
            responses.append([have[k] for k in ks])
            if not save:
                paths.append(None)
                continue
            paths.append([str(Path("images") / self.task.image_relpath(it.sample, k)) for k in ks])
            self.task.on_images_saved(it.sample, images_dir)
        return responses, paths

"""MM-Vet (Yu et al., 2023): 218 open questions needing combinations of six capabilities, graded
by an LLM judge with the official prompt (`janus_eval.metrics.mmvet`) through any
OpenAI-compatible chat-completions endpoint (`tasks/_judge.py`).

How judging fits the runner: scores are computed per batch in `score_batch` and stored with the
answers, so a stored sample is never judged again. A verdict is also written to a disk cache
the moment it arrives, so a crash after judging but before the batch is stored costs no second
payment when the run resumes (the model answers again, the judge is not asked again)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from janus_eval.metrics.mmvet import GRADER_ID, MAX_TOKENS, grade, mmvet_scores
from janus_eval.registry import register_task
from janus_eval.types import Metrics, Sample, UnderstandRequest, UserError

from ._hub import HubImageCache, load_table, progress, undecoded_images
from ._judge import ChatJudge, VerdictCache, chat_endpoint
from ._mmvet_demo import DEMO_JUDGE_MODEL, DEMO_JUDGE_URL, demo_complete
from ._records import find_file, image_dirs, read_json
from ._understanding import COUNTS, UnderstandingTask, common_options, prose

#: VLMEvalKit janus.py for MMVet: this system prompt, and the image followed by "\n" + question;
#: max_new_tokens 512 as janus.py had it when the Janus numbers were made (b3a2f81, PR #541; it
#: became 2048 in 43af13e, 2025-02).
SYSTEM_PROMPT = (
    "You are a helpful assistant. Please answer truthfully and write out your thinking step by "
    "step to be sure you get the right answer."
)
TEMPLATE = "<image>\n{question}"
JUDGE_ENV = {"judge_url": "JANUS_EVAL_JUDGE_URL", "judge_model": "JANUS_EVAL_JUDGE_MODEL"}
#: Options that change how the judge is reached, never what it says: not part of the run id.
TRANSPORT_OPTIONS = ("judge_key_env", "judge_timeout_s", "judge_retries", "judge_workers")
NO_JUDGE = (
    "mmvet is graded by an LLM judge and none is configured: pass --task-option "
    "judge_url=https://api.openai.com/v1 (any OpenAI-compatible chat-completions endpoint, e.g. "
    "http://localhost:8000/v1 for a local vLLM server) and --task-option judge_model=NAME "
    "(default gpt-4-0613, the official grader), with the API key in $OPENAI_API_KEY (or name "
    "another variable with --task-option judge_key_env=NAME). In a run of several tasks, set "
    "JANUS_EVAL_JUDGE_URL and JANUS_EVAL_JUDGE_MODEL instead."
)


@register_task
class MMVet(UnderstandingTask):
    name = "mmvet"
    version = "1"
    primary_metric = "total"
    metric_names = ("total", "per_capability", "per_capability_set", *COUNTS)
    sample_metrics = {"total": ("score", 100.0)}
    leaderboard_keys = ("judge_model",)
    splits = ("test",)
    data_help = prose(
        """
        MM-Vet reads mm-vet.json (id -> {imagename, capability, question, answer}) and the images/
        it names from --data-dir (the unzipped mm-vet.zip from github.com/yuweihao/MM-Vet, or its
        parent). Without --data-dir it reads the Hugging Face dataset lmms-lab/MMVet (split test;
        --task-option source=NAME_OR_LOCAL_DIR). Answers are graded by an LLM judge: --task-option
        judge_url=URL (an OpenAI-compatible API) and judge_model=NAME (default gpt-4-0613), key in
        $OPENAI_API_KEY or judge_key_env=NAME; judge_timeout_s, judge_retries and judge_workers
        tune the calls; $JANUS_EVAL_JUDGE_URL and $JANUS_EVAL_JUDGE_MODEL stand in for judge_url /
        judge_model when those are not given (runs of several tasks). Verdicts are cached under
        $JANUS_EVAL_CACHE/judge/mmvet. With --demo and no judge named, an offline keyword judge
        (judge_url=demo) grades instead: a stand-in for demos, not MM-Vet's grader.
        """
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        options = common_options("test", "lmms-lab/MMVet", TEMPLATE, max_new_tokens=512)
        return {
            **options,
            "system_prompt": SYSTEM_PROMPT,
            "image_dir": "",
            "judge_url": "",
            "judge_model": "gpt-4-0613",
            "judge_key_env": "OPENAI_API_KEY",
            "judge_timeout_s": 60.0,
            "judge_retries": 5,
            "judge_workers": 4,
        }

    def __init__(self, **options: Any) -> None:
        # Environment defaults, for runs of several tasks (where --task-option applies to every
        # task); the values end up in the options, so in the run id, like given ones.
        for key, env in JUDGE_ENV.items():
            if key not in options and os.environ.get(env, "").strip():
                options[key] = os.environ[env].strip()
        super().__init__(**options)
        if not str(self.options["judge_url"]).strip():
            raise UserError(NO_JUDGE)
        url = str(self.options["judge_url"]).strip()
        self.endpoint = url if url == DEMO_JUDGE_URL else chat_endpoint(url)
        if not str(self.options["judge_model"]).strip():
            raise UserError("mmvet: judge_model is empty; name the judge model, e.g. gpt-4-0613")
        if int(self.options["judge_workers"]) < 1 or int(self.options["judge_retries"]) < 0:
            raise UserError("mmvet: judge_workers must be at least 1 and judge_retries at least 0")
        self._judge: ChatJudge | None = None
        self.cache = VerdictCache("mmvet")

    @classmethod
    def demo_options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """The offline keyword judge (tasks/_mmvet_demo.py) when no judge is named, neither in
        the options nor in $JANUS_EVAL_JUDGE_URL / $JANUS_EVAL_JUDGE_MODEL."""
        named = {"judge_url", "judge_model"} & set(given)
        if named or any(os.environ.get(env, "").strip() for env in JUDGE_ENV.values()):
            return {}
        return {"judge_url": DEMO_JUDGE_URL, "judge_model": DEMO_JUDGE_MODEL}

    def config(self) -> dict[str, Any]:
        """The judge model and grading rule are part of the run id; how it is reached is not."""
        config = super().config()
        for key in TRANSPORT_OPTIONS:
            config["options"].pop(key, None)
        config["grader"] = GRADER_ID
        return config

    # -- reading ------------------------------------------------------------------------------
    def read_files(self, data_dir: Path) -> Iterator[Sample]:
        path = find_file(data_dir, ["mm-vet.json"], ("", "mm-vet"))
        if path is None:
            raise UserError(f"MM-Vet: mm-vet.json not found in {data_dir}. {self.data_help}")
        doc = read_json(path, what="MM-Vet questions")
        if not isinstance(doc, dict):
            raise UserError(f"MM-Vet: {path} is not a dict of id -> question; is it mm-vet.json?")
        dirs = image_dirs(path.parent, self.options["image_dir"], "images")
        for sid, q in doc.items():
            where = f"MM-Vet: {path} id {sid}"
            problem = _problem(q, ("imagename", "capability", "question", "answer"))
            if problem:
                self.bad_record(str(sid), f"{where}: {problem}")
                continue
            image = self.find_image(str(q["imagename"]), dirs, str(sid), where)
            if image is None:
                continue
            yield _sample(str(sid), q, image)

    def read_hub(self) -> Iterator[Sample]:
        source = self.options["source"]
        what = f"MM-Vet ({source})"
        table = undecoded_images(load_table(source, "test", what=what))
        cache = HubImageCache(source, "test")
        for row in progress(table, len(table), "reading MM-Vet"):
            sid = str(row.get("question_id"))
            where = f"{what} question_id {sid}"
            problem = _problem(row, ("question_id", "capability", "question", "answer", "image"))
            if problem:
                self.bad_record(sid, f"{where}: {problem}")
                continue
            image = cache.path_for(row["image"], f"{sid}.png")
            if image is None:
                self.bad_record(sid, f"{where} has no image")
                continue
            yield _sample(sid, row, image)

    # -- scoring ------------------------------------------------------------------------------
    def request(self, sample: Sample) -> UnderstandRequest:
        return self.build_request(sample.data["image"], question=sample.data["question"])

    @property
    def judge(self) -> ChatJudge:
        if self._judge is None:
            self._judge = ChatJudge(
                self.options["judge_url"],
                self.options["judge_model"],
                key_env=str(self.options["judge_key_env"]),
                timeout_s=float(self.options["judge_timeout_s"]),
                retries=int(self.options["judge_retries"]),
            )
        return self._judge

    def score(self, sample: Sample, response: str) -> dict[str, Any]:
        d = sample.data
        key = self.cache.key(
            endpoint=self.endpoint,
            model=self.options["judge_model"],
            grader=GRADER_ID,
            question=d["question"],
            answer=d["answer"],
            prediction=response,
        )
        verdict = self.cache.get(key)
        cached = verdict is not None
        if verdict is None:
            complete = (
                demo_complete(d["answer"], response)
                if self.endpoint == DEMO_JUDGE_URL
                else lambda prompt, temperature: self.judge.complete(
                    prompt, temperature, MAX_TOKENS
                )
            )
            verdict = grade(d["question"], d["answer"], response, complete)
            self.cache.put(key, verdict)
        return {
            "score": verdict["score"],
            "capability": d["capability"],
            "judge_reply": verdict["reply"],
            "judge_model": verdict["model"],
            "judge_attempts": verdict["attempts"],
            "judge_cached": cached,
        }

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Any]) -> list[dict]:
        """Judge a batch's answers concurrently (judge_workers at a time)."""
        workers = min(int(self.options["judge_workers"]), len(samples)) or 1
        with ThreadPoolExecutor(workers, thread_name_prefix="janus-eval-judge") as pool:
            return list(pool.map(self.score, samples, responses))

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> Metrics:
        metrics: Metrics = mmvet_scores(scored)
        return self.with_counts(metrics, scored)


def _problem(q: Any, fields: tuple[str, ...]) -> str | None:
    if not isinstance(q, Mapping):
        return "is not a JSON object"
    missing = [k for k in fields if k not in q or q[k] is None]
    if missing:
        return f"lacks {', '.join(missing)}"
    if not isinstance(q["question"], str) or not isinstance(q["answer"], str):
        return "question and answer must be text"
    if not _capabilities(q["capability"]):
        return f"capability {q['capability']!r} names no capability"
    return None


def _capabilities(value: Any) -> list[str]:
    """A list of names (mm-vet.json) or a comma-separated string."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        return []
    return [str(c).strip() for c in items if str(c).strip()]


def _sample(sid: str, q: Mapping[str, Any], image: Path) -> Sample:
    capability = _capabilities(q["capability"])
    return Sample(
        id=sid,
        data={
            "question": q["question"],
            "answer": q["answer"],
            "capability": capability,
            "image": str(image),
        },
        category="_".join(sorted(capability)),
    )

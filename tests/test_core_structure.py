"""The core's structure (issue 17): the adapter contract checked at registration, adapter
options converted like task options, optional capabilities declared, the placement resolved
once before the adapter is built, and a `--help` that loads no task, adapter, numpy or torch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from janus_eval import api, placement, registry
from janus_eval.types import Task, UserError


class _Good:
    name = "contract-good"

    def __init__(self, model_path=None, device="cpu", dtype="fp32", **options):
        self.device, self.dtype, self.options = device, dtype, options

    @classmethod
    def default_options(cls):
        return {"steps": 4, "scale": 1.5, "greedy": False, "label": "x"}

    def describe(self):
        return {"name": self.name, "device": self.device, "dtype": self.dtype}

    def understand(self, reqs):
        return ["yes" for _ in reqs]


@pytest.fixture
def adapters(monkeypatch):
    """The adapter registry restored after the test."""
    registry.load_all()
    monkeypatch.setattr(registry, "_adapters", dict(registry._adapters))


def _init(self, model_path=None, device="cpu", dtype="fp32"):
    pass


def _class(label: str, **members) -> type:
    return type(label, (), {"name": label, "__init__": _init, **members})


def test_a_good_adapter_registers_with_no_capabilities(adapters):
    assert registry.register_adapter(_Good) is _Good
    assert registry.adapter_capabilities(_Good) == frozenset()
    assert registry.adapter_capabilities(_Good()) == frozenset()


@pytest.mark.parametrize(
    ("members", "needle"),
    [
        ({"describe": None, "understand": lambda self, r: r}, "a describe() method"),
        ({"describe": lambda self: {}}, "one of understand() / generate_images()"),
        ({"name": "", "describe": lambda self: {}, "understand": len}, "a non-empty `name`"),
        (
            {"describe": lambda self: {}, "understand": len, "__init__": lambda self, path: None},
            "a constructor taking model_path, device, dtype",
        ),
        (
            {"describe": lambda self: {}, "understand": len, "auto_batch_size": len},
            "'auto_batch_size' in `capabilities`, since it defines auto_batch_size()",
        ),
        (
            {"describe": lambda self: {}, "understand": len, "capabilities": {"auto_batch_size"}},
            "the method auto_batch_size(kind) -> int",
        ),
        (
            {"describe": lambda self: {}, "understand": len, "capabilities": {"turbo"}},
            "no unknown capability 'turbo'",
        ),
    ],
)
def test_a_broken_adapter_is_refused_naming_what_is_missing(adapters, members, needle):
    cls = _class("contract-bad", **members)
    with pytest.raises(TypeError, match="cannot be registered") as info:
        registry.register_adapter(cls)
    assert needle in str(info.value) and "contract-bad" in str(info.value)
    assert "contract-bad" not in registry._adapters


def test_adapter_options_are_converted_to_the_declared_types(adapters):
    registry.register_adapter(_Good)
    given = {"steps": "8", "scale": "0.5", "greedy": "yes", "label": "7", "other": "3"}
    made = registry.make_adapter(
        "contract-good", model_path=None, device="cpu", dtype="bf16", options=given
    )
    assert made.options == {"steps": 8, "scale": 0.5, "greedy": True, "label": "7", "other": "3"}
    assert made.dtype == "bf16"
    with pytest.raises(UserError, match="steps='many': expected an integer"):
        registry.make_adapter("contract-good", model_path=None, device="cpu", dtype="fp32",
                              options={"steps": "many"})  # fmt: skip


def test_auto_batch_size_is_asked_only_of_adapters_that_declare_it(adapters):
    declared = _class(
        "cap-yes",
        describe=lambda self: {},
        understand=len,
        capabilities=frozenset({"auto_batch_size"}),
        auto_batch_size=lambda self, kind: {"understanding": 3, "generation": 5}[kind],
    )
    assert api.resolve_batch_size("auto", declared(), "generation") == 5
    assert api.resolve_batch_size("auto", _Good(), "understanding") == 8
    assert api.resolve_batch_size("6", _Good(), "understanding") == 6


def test_placement_is_resolved_before_the_adapter_is_built(adapters, monkeypatch, tmp_path):
    """Under a launcher `cuda` becomes this rank's GPU before the adapter exists, and the
    adapter is built on it (the device is never rewritten afterwards)."""
    monkeypatch.setattr(placement.distributed, "launched_world", lambda: (1, 2))
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(placement, "check_device", lambda device: None)
    assert placement.place("cuda", "bf16") == placement.Placement("cuda:1", "bf16", (1, 2), True)
    assert placement.place("cuda", "bf16", "0/3") == placement.Placement("cuda", "bf16", (0, 3))
    with pytest.raises(UserError, match="unknown dtype 'fp8'"):
        placement.place("cpu", "fp8")

    built = []

    class Recording(_Good):
        name = "contract-recording"

        def __init__(self, model_path=None, device="cpu", dtype="fp32", **options):
            super().__init__(model_path, device, dtype, **options)
            built.append(device)

    registry.register_adapter(Recording)
    monkeypatch.setattr(api.distributed, "gather_to_rank0", lambda obj: None)
    rec = api.evaluate("toy-qa", "contract-recording", device="cuda", output_dir=tmp_path, limit=4)
    assert built == ["cuda:1"] and rec.model["device"] == "cuda:1"
    assert rec.shard == {"index": 1, "count": 2}  # rank 1 of 2: a slice, finished by rank 0


def test_bad_arguments_fail_before_any_weight_loads(adapters, tmp_path):
    """Adapters load weights on first use (describe() needs at least their fingerprint), so
    every mistake in the arguments or the data comes before the first describe()."""
    described = []

    class Recording(_Good):
        name = "contract-recording"

        def describe(self):
            described.append(True)
            return super().describe()

    registry.register_adapter(Recording)
    for kwargs, needle in (
        ({"dtype": "fp8"}, "unknown dtype"),
        ({"data_dir": tmp_path / "missing"}, "does not exist"),
        ({"limit": 0}, "--limit must be at least 1"),
        ({"model_options": {"steps": "many"}}, "expected an integer"),
    ):
        with pytest.raises(UserError, match=needle):
            api.evaluate("toy-qa", "contract-recording", output_dir=tmp_path, **kwargs)
    with pytest.raises(UserError, match="unknown model 'no-such-model'"):  # before the data
        api.evaluate("toy-qa", "no-such-model", output_dir=tmp_path, data_dir=tmp_path / "no")
    assert described == []


def test_one_adapter_serves_several_tasks(adapters, tmp_path):
    built = []

    class Recording(_Good):
        name = "contract-recording"

        def __init__(self, **kw):
            super().__init__(**kw)
            built.append(kw)

    registry.register_adapter(Recording)
    records = list(api.evaluate_tasks(["toy-qa", "toy-qa"], "contract-recording",
                                      output_dir=tmp_path, limit=3))  # fmt: skip
    assert len(built) == 1 and [r.n_samples for r in records] == [3, 3]
    assert records[1].n_reused == 3  # the same run again: every result reused


def test_help_loads_no_task_adapter_numpy_or_torch():
    """`janus-eval --help` lists the commands tasks and adapters contribute, importing only
    the modules that contribute them (run without the test plug-in, which imports numpy)."""
    code = (
        "import sys, runpy; sys.argv = ['janus-eval', '--help']\n"
        "try:\n    runpy.run_module('janus_eval', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('numpy', 'torch', 'PIL', 'janus_eval.tasks.vqav2', 'janus_eval.api',\n"
        "         'janus_eval.model_adapters.janus.adapter_missing')\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["COLUMNS"] = "200"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout
    for command in ("geneval-score", "bench", "run", "compare", "merge"):
        assert command in out.stdout


def test_a_task_is_still_a_task():
    assert issubclass(registry.task_class("toy-qa"), Task)


def test_a_request_never_returns_to_a_module_it_has_left(tmp_path):
    """`janus-eval run` traced call by call: cli -> api -> runner -> adapter -> task scoring ->
    store, and no call chain re-enters a module it has left (A -> B -> A: a callback into a
    caller, a lazy iterable consumed elsewhere). Plug-ins are loaded (and register themselves)
    before the trace, so only the request is traced."""
    from typer.testing import CliRunner

    from janus_eval.cli import app

    registry.load_all()
    stack: list[str | None] = []
    reentries: set[str] = set()
    paths: set[tuple[str, ...]] = set()

    def room(frame) -> str | None:
        name = frame.f_globals.get("__name__") or ""
        return name if name.startswith(("janus_eval", "toy_plugin")) else None

    def profile(frame, event, arg):
        if event == "call":
            stack.append(room(frame))
            chain = [m for m in stack if m is not None]
            seq = tuple(m for i, m in enumerate(chain) if i == 0 or chain[i - 1] != m)
            if seq and seq.count(seq[-1]) > 1:
                reentries.add(" -> ".join(seq[seq.index(seq[-1]) :]))
            paths.add(seq)
        elif event == "return" and stack:
            stack.pop()

    args = ["run", "-t", "toy-gen", "-m", "dummy", "--limit", "2", "--no-progress",
            "--output-dir", str(tmp_path)]  # fmt: skip
    sys.setprofile(profile)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        sys.setprofile(None)
    assert result.exit_code == 0, result.output
    assert sorted(reentries) == []
    entry = ("janus_eval.commands.running", "janus_eval.api", "janus_eval.runner")
    below_runner = {m for p in paths if p[:3] == entry for m in p[3:]}
    # the adapter answers, the task scores (through Task.score_batch), the store appends
    assert {"janus_eval.model_adapters.dummy", "toy_plugin", "janus_eval.store"} <= below_runner

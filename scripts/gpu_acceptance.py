"""GPU acceptance in one command: the CUDA tests, the speed benchmarks, one JSON, one table.

    scripts/gpu_acceptance.sh                 # on a machine with one CUDA GPU (< 8 min, offline)
    scripts/gpu_acceptance.sh --dry-run       # the same steps on the CPU at toy sizes (< 2 min)
    scripts/gpu_acceptance.sh --out-dir DIR --wheels .whl --inception-path /path/to/weights.pt

Steps (scripts/acceptance_plan.py has them as data): every test skipped for want of a GPU
(`pytest -m cuda`, see tests/conftest.py), `janus-eval bench generate` at the Janus-1.3B shapes
(16 images of one prompt, 64 of four) and the Janus-Pro-7B shapes (16 images), `bench
understand` at both sizes (all with --baselines), and `bench fid`. Each runs through the CLI in
its own process (so a crash or a timeout costs one step, not the run) within what is left of
the time budget. Written to DIR/acceptance.json: every figure, each step's command, status and
seconds, the card, the driver and the versions; each step's stderr in DIR/<step>.log.

Why a script and not `janus-eval selftest --gpu`: the run needs the test suite, which lives in
a checkout, not in an installed package; and the core CLI then stays free of test plumbing.

Exit status: 0 every step ran and every target holds (dry run: every step ran); 1 a step
failed or a target is missed or missing; 2 it cannot start (no GPU without --dry-run, bad
arguments).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import json
import os
import platform
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from acceptance_plan import MIN_TRANSFORMERS, TARGETS, Step, cuda_test_files, steps, version_tuple

ROOT = Path(__file__).resolve().parents[1]
GPU_BUDGET_S = 480.0
WHEELS_HELP = (
    "carry one: where a network is available run `pip download 'transformers>={v}' -d .whl "
    "--only-binary=:all: --python-version {py} --platform manylinux2014_x86_64`, copy .whl/ "
    "next to this checkout (or pass --wheels DIR) and run again; it is installed with "
    "`pip install --no-index --find-links DIR`"
)


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _command(args: list[str], timeout: float | None = 10) -> str | None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict:
    """The card, its driver, and every version that moves a figure."""
    import torch

    cuda = torch.cuda.is_available()
    props = torch.cuda.get_device_properties(0) if cuda else None
    smi = _command(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    commit = _command(["git", "rev-parse", "HEAD"])
    dirty = _command(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "card": props.name if props else None,
        "gpu_memory_gib": round(props.total_memory / 2**30, 1) if props else None,
        "compute_capability": f"{props.major}.{props.minor}" if props else None,
        "gpus": torch.cuda.device_count() if cuda else 0,
        "driver": smi.splitlines()[0] if smi else None,
        "cuda_runtime": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "clean_fid": _version("clean-fid"),
        "pytest": _version("pytest"),
        "janus_eval": _version("janus-eval"),
        "git_commit": (commit + ("-dirty" if dirty else "")) if commit else None,
    }


def ensure_transformers(wheels: Path | None) -> str | None:
    """None when transformers is new enough for the baselines (installing it from `wheels`
    first if needed), else what is missing and how to carry it."""
    have = _version("transformers")
    if have and version_tuple(have) >= MIN_TRANSFORMERS:
        return None
    need = ".".join(map(str, MIN_TRANSFORMERS))
    folder = wheels or ROOT / ".whl"
    if folder.is_dir() and any(folder.glob("transformers-*.whl")):
        print(f"installing transformers>={need} from {folder} (found {have})", file=sys.stderr)
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links",
               str(folder), f"transformers>={need}"]  # fmt: skip
        if subprocess.run(pip).returncode == 0 and version_tuple(_version("transformers") or ""):
            return None
        return f"installing transformers>={need} from {folder} failed (pip output above)"
    py = ".".join(platform.python_version_tuple()[:2])
    return (f"the baselines need transformers>={need} (found {have or 'none'}): they are left "
            f"out; " + WHEELS_HELP.format(v=need, py=py))  # fmt: skip


def _junit(path: Path) -> dict:
    """pytest's JUnit XML as figures: counts, the ids that failed, why tests were skipped."""
    cases = ET.parse(path).getroot().iter("testcase")
    out: dict = {"collected": 0, "passed": 0, "failed": 0, "skipped": 0}
    failed, reasons = [], set()
    for case in cases:
        out["collected"] += 1
        kinds = {child.tag: child for child in case}
        test_id = f"{case.get('classname')}::{case.get('name')}"
        if "failure" in kinds or "error" in kinds:
            out["failed"] += 1
            failed.append(test_id)
        elif "skipped" in kinds:
            out["skipped"] += 1
            reasons.add(kinds["skipped"].get("message", ""))
        else:
            out["passed"] += 1
    return {**out, "failed_tests": failed, "skip_reasons": sorted(reasons)}


def run_step(
    step: Step, out_dir: Path, timeout: float, drop_baselines: bool, env: dict[str, str]
) -> dict:
    """Run one step in its own process group; its JSON figures, status and seconds."""
    args = [a for a in step.args if not (drop_baselines and a == "--baselines")]
    junit = out_dir / f"{step.name}.xml"
    if args[0] == "pytest":
        command = [sys.executable, "-m", *args, f"--junitxml={junit}"]
    else:
        command = [sys.executable, "-m", "janus_eval", *args]
    log = out_dir / f"{step.name}.log"
    record: dict = {"command": command[1:], "log": log.name, "figures": {}}
    if timeout <= 0:
        return {**record, "status": "skipped: no time left in the budget", "seconds": 0.0}
    t0 = time.perf_counter()
    with log.open("w") as err:
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=err,
                                 text=True, start_new_session=True, env=env)  # fmt: skip
        try:
            stdout, _ = child.communicate(timeout=timeout)
            status = "ok" if child.returncode == 0 else f"failed (exit {child.returncode})"
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            stdout, _ = child.communicate()
            status = f"timeout after {timeout:.0f} s"
    record.update(status=status, seconds=round(time.perf_counter() - t0, 1))
    if junit.is_file():
        record["figures"] = _junit(junit)
        if status.startswith("failed (exit 1)"):  # tests ran; some failed: a figure, not a crash
            record["status"] = "ok"
    elif status == "ok":
        try:
            record["figures"] = json.loads(stdout)
        except json.JSONDecodeError:
            record["status"] = "failed (no JSON on stdout)"
    if record["status"] != "ok":
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        record["error"] = " | ".join(tail)
    return record


def derive(results: dict) -> None:
    """Figures the targets need that no command prints as such."""
    fid = results.get("fid", {}).get("figures", {})
    if "fid_ours" in fid and fid.get("fid_cleanfid"):
        fid["fid_relative_diff"] = abs(fid["fid_ours"] - fid["fid_cleanfid"]) / abs(
            fid["fid_cleanfid"]
        )


def judge(results: dict, dry: bool) -> list[dict]:
    rows = []
    for t in TARGETS:
        value = results.get(t.step, {}).get("figures", {}).get(t.figure)
        verdict = t.verdict(value)
        rows.append({"target": t.label, "step": t.step, "figure": t.figure, "value": value,
                     "op": t.op, "bound": t.bound, "unit": t.unit,
                     "verdict": f"{verdict} (dry run)" if dry else verdict})  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'target':<34} {'measured':>12} {'bound':>12}  verdict"]
    for r in rows:
        value = r["value"]
        shown = "-" if value is None else f"{value:.4g}" if isinstance(value, float) else value
        bound = f"{r['op']} {r['bound']:g} {r['unit']}".rstrip()
        lines.append(f"{r['target']:<34} {shown!s:>12} {bound:>12}  {r['verdict']}")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="docs/PERFORMANCE.md, section 'GPU acceptance', says more.",
    )
    p.add_argument("--dry-run", action="store_true", help="CPU, toy sizes, verdicts not judged")
    p.add_argument("--out-dir", type=Path, help="default results/gpu_acceptance/<UTC time>/")
    p.add_argument("--wheels", type=Path, help="wheels to install from (default .whl/)")
    p.add_argument("--inception-path", help="FID Inception weights (default: the usual places)")
    p.add_argument("--only", action="append", default=[], metavar="STEP", help="these steps")
    p.add_argument("--budget-s", type=float, help=f"time for all steps (GPU: {GPU_BUDGET_S:g})")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    plan = steps(a.dry_run, cuda_test_files(ROOT / "tests"), a.inception_path)
    unknown = set(a.only) - {s.name for s in plan}
    if unknown:
        print(f"gpu_acceptance: unknown step(s) {sorted(unknown)}; the steps are "
              f"{', '.join(s.name for s in plan)}", file=sys.stderr)  # fmt: skip
        return 2
    import torch

    if not a.dry_run and not torch.cuda.is_available():
        print("gpu_acceptance: no CUDA device here (torch.cuda.is_available() is False, torch "
              f"{torch.__version__}). Run it on a machine with a GPU, or pass --dry-run to run "
              "the same steps on the CPU at toy sizes.", file=sys.stderr)  # fmt: skip
        return 2
    plan = [s for s in plan if not a.only or s.name in a.only]
    started = dt.datetime.now(dt.timezone.utc)
    out_dir = a.out_dir or ROOT / "results" / "gpu_acceptance" / (
        started.strftime("%Y%m%dT%H%M%SZ") + ("-dry-run" if a.dry_run else ""))  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    old_transformers = ensure_transformers(a.wheels)
    missing = [old_transformers] if old_transformers else []
    for m in missing:
        print(f"MISSING: {m}", file=sys.stderr)
    # toy models are dispatch-bound: one thread each, no OpenMP barriers on a shared CPU
    env = {**os.environ, **({"OMP_NUM_THREADS": "1"} if a.dry_run else {})}
    budget = a.budget_s or (600.0 if a.dry_run else GPU_BUDGET_S)
    t0, results = time.perf_counter(), {}
    for i, step in enumerate(plan, 1):
        left = budget - (time.perf_counter() - t0)
        print(f"[{i}/{len(plan)}] {step.name} ...", file=sys.stderr, flush=True)
        results[step.name] = run_step(
            step, out_dir, min(step.timeout_s, left), bool(old_transformers), env
        )
        r = results[step.name]
        print(f"[{i}/{len(plan)}] {step.name}: {r['status']} ({r['seconds']} s)"
              + (f": {r['error']}" if "error" in r else ""), file=sys.stderr)  # fmt: skip
    derive(results)
    rows = judge(results, a.dry_run)
    steps_ok = all(r["status"] == "ok" for r in results.values())
    targets_ok = all(r["verdict"] == "pass" for r in rows if r["step"] in results)
    verdict = ("dry run: every step ran" if steps_ok else "dry run: a step failed") if a.dry_run \
        else "pass" if steps_ok and targets_ok else "fail"  # fmt: skip
    report = {
        "schema": 1,
        "mode": "dry-run" if a.dry_run else "gpu",
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 1),
        "verdict": verdict,
        "machine": machine(),
        "missing": missing,
        "steps": results,
        "targets": rows,
    }
    path = out_dir / "acceptance.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table(rows))
    print(f"\n{verdict}; {report['seconds']} s; written to {path}")
    return 0 if (steps_ok if a.dry_run else verdict == "pass") else 1


if __name__ == "__main__":
    sys.exit(main())

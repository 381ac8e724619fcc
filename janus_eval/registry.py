"""Tasks and model adapters by name.

Built-ins live in `janus_eval.tasks` / `janus_eval.model_adapters` and register themselves with
the decorators below when their module is imported; every module of those packages is imported
on first lookup (modules keep heavy imports such as torch inside functions, so this is cheap).
Third-party packages add theirs through the entry-point groups `janus_eval.tasks` and
`janus_eval.model_adapters`, whose values point at a Task subclass or an adapter class (or a
zero-argument callable returning a list of them); suites (janus_eval.suites.Suite) likewise
through `janus_eval.suites`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

from janus_eval.types import Task, UserError

TASK_GROUP = "janus_eval.tasks"
ADAPTER_GROUP = "janus_eval.model_adapters"
SUITE_GROUP = "janus_eval.suites"

_tasks: dict[str, type[Task]] = {}
_adapters: dict[str, type] = {}
_suites: dict[str, Any] = {}
_loaded = False

T = TypeVar("T", bound=type)
F = TypeVar("F", bound=Callable[..., Any])


def register_task(cls: T) -> T:
    """Class decorator: make a Task subclass available under `cls.name`."""
    if not getattr(cls, "name", ""):
        raise TypeError(f"{cls.__qualname__} needs a non-empty `name` to be registered")
    _tasks[cls.name] = cls
    return cls


def register_adapter(cls: T) -> T:
    """Class decorator: make a model adapter available under `cls.name`."""
    if not getattr(cls, "name", ""):
        raise TypeError(f"{cls.__qualname__} needs a non-empty `name` to be registered")
    _adapters[cls.name] = cls
    return cls


def register_suite(suite: Any) -> Any:
    """Make a `janus_eval.suites.Suite` available under `suite.name` (returns it)."""
    if not getattr(suite, "name", "") or not getattr(suite, "tasks", ()):
        raise TypeError(f"{suite!r}: a suite needs a non-empty `name` and `tasks`")
    _suites[suite.name] = suite
    return suite


_commands: dict[tuple[str | None, str], Callable[..., Any]] = {}
#: Command groups a plug-in may add to (`janus-eval bench NAME`).
COMMAND_GROUPS = ("bench",)


def register_command(name: str, *, group: str | None = None) -> Callable[[F], F]:
    """Decorator: contribute a typer-annotated function as `janus-eval NAME` (or `janus-eval
    GROUP NAME`). Tasks and adapters bring their own commands this way (GenEval's folder scoring,
    Janus's benchmarks), so the core's CLI never imports them."""
    if group is not None and group not in COMMAND_GROUPS:
        raise ValueError(f"unknown command group {group!r}; choose one of {COMMAND_GROUPS}")

    def decorate(func: F) -> F:
        _commands[(group, name)] = func
        return func

    return decorate


def commands() -> dict[tuple[str | None, str], Callable[..., Any]]:
    """Every contributed command by (group, name), built-ins and plug-ins loaded."""
    load_all()
    return dict(_commands)


#: Built-in modules that failed to import, with the reason (shown when their names are asked for).
import_errors: dict[str, str] = {}


def _import_package_modules(package: str) -> None:
    """Import every module of a built-in package. One broken module (a missing optional
    dependency, say) must not hide the others, so failures are recorded and warned about."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__, prefix=package + "."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            import warnings

            import_errors[info.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"could not import {info.name}: {exc}", stacklevel=2)


def _load_entry_points(group: str, register: Callable[[Any], Any]) -> None:
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plug-in must not break the built-ins
            import warnings

            warnings.warn(f"could not load {group} plug-in {ep.name!r}: {exc}", stacklevel=2)
            continue
        items = obj() if callable(obj) and not isinstance(obj, type) else obj
        for item in items if isinstance(items, (list, tuple)) else [items]:
            register(item)


def load_all(force: bool = False) -> None:
    global _loaded
    if _loaded and not force:
        return
    _loaded = True
    _import_package_modules("janus_eval.tasks")
    _import_package_modules("janus_eval.model_adapters")
    _load_entry_points(TASK_GROUP, register_task)
    _load_entry_points(ADAPTER_GROUP, register_adapter)
    _load_entry_points(SUITE_GROUP, register_suite)


def _import_note() -> str:
    if not import_errors:
        return ""
    return (
        " (modules that failed to import: "
        + "; ".join(f"{mod}: {err}" for mod, err in import_errors.items())
        + ")"
    )


def task_names() -> list[str]:
    load_all()
    return sorted(_tasks)


def adapter_names() -> list[str]:
    load_all()
    return sorted(_adapters)


def task_class(name: str) -> type[Task]:
    load_all()
    if name not in _tasks:
        raise UserError(
            f"unknown task {name!r}; known tasks: {', '.join(sorted(_tasks))}" + _import_note()
        )
    return _tasks[name]


def adapter_class(name: str) -> type:
    load_all()
    if name not in _adapters:
        raise UserError(
            f"unknown model {name!r}; known models: {', '.join(sorted(_adapters))}" + _import_note()
        )
    return _adapters[name]


def suite_names() -> list[str]:
    load_all()
    return sorted(_suites)


def suite(name: str) -> Any:
    load_all()
    if name not in _suites:
        raise UserError(f"unknown suite {name!r}; known suites: {', '.join(sorted(_suites))}")
    return _suites[name]


def coerce_options(defaults: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Turn `--task-option k=v` strings into the type of each option's default."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        default = defaults.get(key)
        if not isinstance(value, str) or default is None:
            out[key] = value
        elif isinstance(default, bool):
            if value.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise UserError(f"option {key}={value!r}: expected true or false")
            out[key] = value.lower() in {"1", "true", "yes"}
        elif isinstance(default, (int, float)):
            try:
                out[key] = type(default)(value)
            except ValueError:
                kind = "an integer" if isinstance(default, int) else "a number"
                raise UserError(f"option {key}={value!r}: expected {kind}") from None
        else:
            out[key] = value
    return out


def make_task(name: str, options: dict[str, Any] | None = None) -> Task:
    cls = task_class(name)
    return cls(**coerce_options(cls.default_options(), dict(options or {})))

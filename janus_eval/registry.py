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

import functools
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from importlib.metadata import EntryPoints, entry_points
from typing import Any, TypeVar

from janus_eval.types import ADAPTER_CAPABILITIES, ANSWER_METHODS, Task, UserError

TASK_GROUP = "janus_eval.tasks"
ADAPTER_GROUP = "janus_eval.model_adapters"
#: Where the built-in tasks and adapters live (tasks/ and model_adapters/, installed there):
#: the plug-in loading below is the only place the core names them.
BUILTIN_PACKAGES = (TASK_GROUP, ADAPTER_GROUP)
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
    """Class decorator: make a model adapter available under `cls.name`, once it passes
    `check_adapter` (a TypeError names what is missing)."""
    check_adapter(cls)
    _adapters[cls.name] = cls
    return cls


def check_adapter(cls: type, *, built: bool = False) -> frozenset[str]:
    """The contract of `types.ModelAdapter`, checked on the class: a non-empty `name`, a
    `describe()`, at least one answer method, a constructor taking model_path/device/dtype (not
    asked of an adapter the caller `built` itself), and `capabilities` naming exactly the
    optional methods it has. Returns the capabilities."""
    where = f"adapter class {cls.__module__}.{cls.__qualname__}"
    problems = []
    if not getattr(cls, "name", ""):
        problems.append("a non-empty `name`")
    if not callable(getattr(cls, "describe", None)):
        problems.append("a describe() method")
    if not any(callable(getattr(cls, m, None)) for m in ANSWER_METHODS.values()):
        problems.append(f"one of {' / '.join(f'{m}()' for m in ANSWER_METHODS.values())}")
    problems += [] if built else _constructor_problems(cls)
    declared = frozenset(getattr(cls, "capabilities", ()))
    for cap in sorted(declared - set(ADAPTER_CAPABILITIES)):
        problems.append(f"no unknown capability {cap!r} (known: {sorted(ADAPTER_CAPABILITIES)})")
    for cap in sorted(declared & set(ADAPTER_CAPABILITIES)):
        if not callable(getattr(cls, cap, None)):
            problems.append(f"the method {ADAPTER_CAPABILITIES[cap]} its `capabilities` declare")
    for cap in sorted(set(ADAPTER_CAPABILITIES) - declared):
        if callable(getattr(cls, cap, None)):
            problems.append(f"{cap!r} in `capabilities`, since it defines {cap}()")
    if problems:
        raise TypeError(f"{where} cannot be registered; it needs " + "; ".join(problems))
    return declared


def _constructor_problems(cls: type) -> list[str]:
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):  # a builtin or C constructor: nothing to inspect
        return []
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return []
    names = {p.name for p in params}
    missing = [a for a in ("model_path", "device", "dtype") if a not in names]
    return [f"a constructor taking {', '.join(missing)} (as keywords)"] if missing else []


def adapter_capabilities(adapter: Any) -> frozenset[str]:
    """The optional methods an adapter (instance or class) declares, checked."""
    if isinstance(adapter, type):
        return check_adapter(adapter)
    return check_adapter(type(adapter), built=True)


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
    """Every contributed command by (group, name). Only the modules that contribute commands
    are imported, not every task and adapter (whose metrics pull in numpy), so `janus-eval
    --help` stays fast: a built-in package names them in its `COMMAND_MODULES`; a third-party
    plug-in's module is imported through its entry point."""
    for package in BUILTIN_PACKAGES:
        pkg = importlib.import_module(package)
        for name in getattr(pkg, "COMMAND_MODULES", ()):
            _import_builtin(f"{package}.{name}")
    _load_entry_points(TASK_GROUP, register_task)
    _load_entry_points(ADAPTER_GROUP, register_adapter)
    return dict(_commands)


#: Built-in modules that failed to import, with the reason (shown when their names are asked for).
import_errors: dict[str, str] = {}


def _import_package_modules(package: str) -> None:
    """Import every module of a built-in package. One broken module (a missing optional
    dependency, say) must not hide the others, so failures are recorded and warned about."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__, prefix=package + "."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            _import_builtin(info.name)


def _import_builtin(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception as exc:
        import warnings

        import_errors[module] = f"{type(exc).__name__}: {exc}"
        warnings.warn(f"could not import {module}: {exc}", stacklevel=3)


#: Plug-in entry points already looked at, with what they gave (None: failed, warned once).
_plugin_items: dict[tuple[str, str], list[Any] | None] = {}


@functools.cache
def _installed_entry_points() -> EntryPoints:
    """Every installed entry point, read once: each read walks all installed packages' metadata
    (~15 ms with torch's stack installed), and `--help` needs two groups."""
    return entry_points()


def _load_entry_points(group: str, register: Callable[[Any], Any]) -> None:
    """Register what each plug-in of `group` gives; a broken plug-in is warned about once and
    skipped, never breaking the built-ins."""
    import warnings

    for ep in _installed_entry_points().select(group=group):
        key = (group, ep.name)
        if key not in _plugin_items:
            _plugin_items[key] = None
            try:
                obj = ep.load()
                items = obj() if callable(obj) and not isinstance(obj, type) else obj
            except Exception as exc:
                warnings.warn(f"could not load {group} plug-in {ep.name!r}: {exc}", stacklevel=2)
                continue
            good = _plugin_items[key] = []
            for item in items if isinstance(items, (list, tuple)) else [items]:
                try:  # the contract is checked once, on first sight
                    register(item)
                    good.append(item)
                except TypeError as exc:  # a plug-in breaking it: say so, keep the rest
                    warnings.warn(
                        f"{group} plug-in {ep.name!r} not registered: {exc}", stacklevel=2
                    )
            continue
        for item in _plugin_items[key] or ():
            register(item)  # again after the built-ins, so a plug-in's name wins as it always did


def load_all(force: bool = False) -> None:
    global _loaded
    if _loaded and not force:
        return
    _loaded = True
    for package in BUILTIN_PACKAGES:
        _import_package_modules(package)
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


def make_adapter(
    name: str,
    *,
    model_path: str | None,
    device: str,
    dtype: str,
    options: dict[str, Any] | None = None,
) -> Any:
    """Construct a registered adapter; `--model-option` strings are converted like task options,
    to the types of the adapter's declared `default_options()` (unknown ones the adapter
    refuses itself, naming the ones it knows)."""
    cls = adapter_class(name)
    declared = getattr(cls, "default_options", None)
    defaults = declared() if callable(declared) else {}
    opts = coerce_options(defaults, dict(options or {}))
    return cls(model_path=model_path, device=device, dtype=dtype, **opts)

"""Plugin discovery and the registry of corpora, features, models, and the benchmarks (systems, suites,
published references) distributions register.

Every entry point of the ``serbench`` group is loaded on its own, inside a guard: a plugin that fails
to import, implements a hook that does not exist, or raises while registering becomes a *broken* row
(with its error) instead of breaking every command. A name registered more than once (by two
distributions, or twice by one) is refused for every claimant, whatever the load order: the name is
not usable and each plugin involved is marked broken with a message naming all of them. Set ``SERBENCH_STRICT_PLUGINS=1`` to re-raise instead. A registry is built by a factory on
each call, never at import time, so tests get a fresh one.

Whatever a plugin prints while it is imported or registers goes to stderr (:func:`_quiet_stdout`):
stdout belongs to the command, and ``serbench list --json`` or ``leaderboard --format json`` must stay
parseable whatever the installed plugins print.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, Iterable, TypeVar, Union, cast

import pluggy

from ser_core import hookspecs
from ser_core.benchmark_specs import ReferenceSpec, SuiteSpec, SystemSpec
from ser_core.errors import PluginError, UnknownNameError
from ser_core.specs import CorpusSpec, FeatureSpec, ModelSpec

ENTRY_POINT_GROUP = "serbench"
STRICT_ENV = "SERBENCH_STRICT_PLUGINS"

#: hook name -> ((kind shown to users, spec class a plugin may register), ...)
HOOK_KINDS: dict[str, tuple[tuple[str, type], ...]] = {
    "register_corpora": (("corpus", CorpusSpec),),
    "register_features": (("feature", FeatureSpec),),
    "register_models": (("model", ModelSpec),),
    "register_benchmarks": (("system", SystemSpec), ("suite", SuiteSpec), ("reference", ReferenceSpec)),
}
#: kind -> spec class, every kind of every hook
SPEC_TYPES: dict[str, type] = {kind: spec for kinds in HOOK_KINDS.values() for kind, spec in kinds}


def strict_mode() -> bool:
    """True when broken plugins should raise instead of being listed as broken."""
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def make_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager that knows serbench's hook specs and no plugins yet."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


@dataclass
class PluginInfo:
    """One plugin (an entry point or an in-process object) and how loading it went."""

    name: str
    distribution: str
    version: str
    module: str
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "broken" if self.errors else "ok"


#: The spec a registration holds: one of the kinds a plugin may register.
SpecT = TypeVar("SpecT", bound=Union[CorpusSpec, FeatureSpec, ModelSpec, SystemSpec, SuiteSpec, ReferenceSpec])


@dataclass(frozen=True)
class Registered(Generic[SpecT]):
    """A spec together with the plugin that registered it: ``Registered[ModelSpec]`` for a model, so
    ``registry.model(name).spec`` is a :class:`~ser_core.specs.ModelSpec` to a type checker."""

    kind: str
    spec: SpecT
    plugin: PluginInfo

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class Registry:
    """Everything the installed plugins registered, by kind and name, plus every plugin's status."""

    plugins: list[PluginInfo] = field(default_factory=list)
    items: dict[str, dict[str, Registered[Any]]] = field(
        default_factory=lambda: {kind: {} for kind in SPEC_TYPES}
    )
    #: ``(kind, name)`` registered more than once -> every plugin that claimed it (refused for all).
    conflicts: dict[tuple[str, str], list[PluginInfo]] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> Registered[Any]:
        """The registered ``kind`` called ``name``; the error suggests close names and broken plugins."""
        found = self.items[kind].get(name)
        if found is not None:
            return found
        if (kind, name) in self.conflicts:
            raise PluginError(_conflict_message(kind, name, self.conflicts[(kind, name)]))
        known = sorted(self.items[kind])
        hint = difflib.get_close_matches(name, known, n=1)
        message = f"unknown {kind} {name!r}."
        if hint:
            message += f" Did you mean {hint[0]!r}?"
        message += f" Installed {kind} names: {', '.join(known) or '(none)'}."
        broken = [p.name for p in self.plugins if p.status == "broken"]
        if broken:
            message += f" Broken plugins (see `serbench list`): {', '.join(broken)}."
        raise UnknownNameError(message)

    def corpus(self, name: str) -> Registered[CorpusSpec]:
        """The registered corpus ``name`` (:meth:`get`)."""
        return cast("Registered[CorpusSpec]", self.get("corpus", name))

    def feature(self, name: str) -> Registered[FeatureSpec]:
        """The registered feature ``name`` (:meth:`get`)."""
        return cast("Registered[FeatureSpec]", self.get("feature", name))

    def model(self, name: str) -> Registered[ModelSpec]:
        """The registered model ``name`` (:meth:`get`)."""
        return cast("Registered[ModelSpec]", self.get("model", name))

    def system(self, name: str) -> Registered[SystemSpec]:
        """The registered system ``name`` (:meth:`get`)."""
        return cast("Registered[SystemSpec]", self.get("system", name))

    def suite(self, name: str) -> Registered[SuiteSpec]:
        """The registered suite ``name`` (:meth:`get`)."""
        return cast("Registered[SuiteSpec]", self.get("suite", name))

    def reference(self, name: str) -> Registered[ReferenceSpec]:
        """The registered published reference ``name`` (:meth:`get`)."""
        return cast("Registered[ReferenceSpec]", self.get("reference", name))

    def rows(self) -> list[dict[str, str]]:
        """One row per registered thing and per broken plugin, for `serbench list`."""
        rows = []
        for kind in SPEC_TYPES:
            for item in sorted(self.items[kind].values(), key=lambda r: r.name):
                rows.append(_row(kind, item.name, item.plugin))
        for plugin in self.plugins:
            if plugin.status == "broken":
                rows.append(_row("plugin", plugin.name, plugin))
        return rows

    def versions(self, *names: Registered[Any]) -> dict[str, str]:
        """``{distribution: version}`` for the plugins behind the given registrations."""
        return {r.plugin.distribution: r.plugin.version for r in names}


def _row(kind: str, name: str, plugin: PluginInfo) -> dict[str, str]:
    return {
        "kind": kind,
        "name": name,
        "distribution": plugin.distribution,
        "version": plugin.version,
        "status": plugin.status,
        "error": "; ".join(plugin.errors),
    }


def mark_broken(plugin: PluginInfo, message: str) -> None:
    """Record that something ``plugin`` registered cannot be used (it shows as broken in `serbench
    list`; recorded once however often it is found); raises in strict mode (``SERBENCH_STRICT_PLUGINS=1``)."""
    if message not in plugin.errors:
        _fail(plugin, message)


def _fail(plugin: PluginInfo, message: str, exc: BaseException | None = None) -> None:
    plugin.errors.append(message)
    if strict_mode():
        raise PluginError(f"plugin {plugin.name!r} ({plugin.distribution}): {message}") from exc


def _describe(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {frame[0].filename}:{frame[0].lineno}" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


@contextlib.contextmanager
def _quiet_stdout():
    """Send what plugin code prints to stderr while it runs: stdout carries the command's output.

    Python's ``print`` is redirected; so is file descriptor 1 when ``sys.stdout`` is the process's own
    stdout, for libraries that write to it from C (their buffered output is flushed before it is put back).
    """
    with contextlib.redirect_stdout(sys.stderr):
        saved = _redirect_descriptor()
        try:
            yield
        finally:
            if saved is not None:
                _restore_descriptor(saved)


def _redirect_descriptor() -> int | None:
    """Point file descriptor 1 at 2, returning a copy of the old 1 (``None`` when stdout is not fd 1)."""
    try:
        if sys.__stdout__ is None or sys.__stdout__.fileno() != 1 or sys.__stderr__ is None:
            return None
        sys.__stdout__.flush()
        saved = os.dup(1)
        os.dup2(sys.__stderr__.fileno(), 1)
        return saved
    except (OSError, ValueError, AttributeError):
        return None


def _restore_descriptor(saved: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)  # C stdio buffers written while fd 1 was stderr go there
    except (OSError, AttributeError, TypeError):
        pass
    os.dup2(saved, 1)
    os.close(saved)


def load_registry(
    extra_plugins: Iterable[tuple[str, object]] = (),
    *,
    use_entry_points: bool = True,
) -> Registry:
    """Discover plugins and collect what they register.

    :param extra_plugins: ``(name, module_or_object)`` pairs registered in-process (tests, notebooks).
    :param use_entry_points: load the installed ``serbench`` entry points too.
    """
    pm = make_plugin_manager()
    registry = Registry()
    candidates: list[tuple[PluginInfo, Any]] = []
    if use_entry_points:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist
            info = PluginInfo(
                name=ep.name,
                distribution=dist.name if dist else "?",
                version=dist.version if dist else "?",
                module=ep.value,
            )
            try:
                with _quiet_stdout():
                    candidates.append((info, ep.load()))
            except Exception as exc:  # a broken plugin must not break the others
                message = f"failed to import {ep.value}: {_describe(exc)}"
                if isinstance(exc, ModuleNotFoundError) and exc.name:
                    package = exc.name.split(".")[0]
                    message += (f". It needs the Python package {package!r}, which is not installed: "
                                f"pip install {package} (or reinstall {info.distribution}, which should declare it)")
                _fail(info, message, exc)
                registry.plugins.append(info)
    for name, obj in extra_plugins:
        module = getattr(obj, "__name__", type(obj).__name__)
        candidates.append((PluginInfo(name, "(in-process)", "-", module), obj))

    by_manager_name: dict[str, PluginInfo] = {}
    for info, obj in candidates:
        registry.plugins.append(info)
        manager_name = f"{info.distribution}:{info.name}"  # two distributions may use one entry-point name
        while manager_name in by_manager_name:
            manager_name += "'"
        by_manager_name[manager_name] = info
        try:
            with _quiet_stdout():
                pm.register(obj, name=manager_name)
                pm.check_pending()
        except Exception as exc:
            if pm.is_registered(obj):
                pm.unregister(obj)
            _fail(info, f"invalid hook implementation: {exc}", exc)

    claims: dict[tuple[str, str], list[Registered[Any]]] = {}
    for hook_name, kinds in HOOK_KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            _collect(claims, by_manager_name[impl.plugin_name], kinds, impl.function)
    for (kind, name), claimants in sorted(claims.items()):
        if len(claimants) == 1:
            registry.items[kind][name] = claimants[0]
            continue
        owners = sorted(_unique([c.plugin for c in claimants]), key=lambda p: (p.distribution, p.name))
        registry.conflicts[(kind, name)] = owners
        for owner in owners:
            _fail(owner, _conflict_message(kind, name, owners))
    return registry


def _unique(plugins: list[PluginInfo]) -> list[PluginInfo]:
    seen: list[PluginInfo] = []
    for plugin in plugins:
        if not any(plugin is s for s in seen):
            seen.append(plugin)
    return seen


def _conflict_message(kind: str, name: str, owners: list[PluginInfo]) -> str:
    if len(owners) == 1:
        owner = owners[0]
        return (
            f"{kind} name {name!r} is registered twice by {owner.distribution} {owner.version} (plugin "
            f"{owner.name!r}); refused. Its authors must register each name once."
        )
    named = " and ".join(f"{o.distribution} {o.version} (plugin {o.name!r})" for o in owners)
    return (
        f"{kind} name {name!r} is registered by both {named}; refused from all of them, so results never "
        f"depend on which loads first. Uninstall all but one of these distributions, or ask an author to "
        f"rename the {kind}."
    )


def _collect(
    claims: dict[tuple[str, str], list[Registered[Any]]], info: PluginInfo, kinds: tuple[tuple[str, type], ...], hook
) -> None:
    what = " or ".join(f"{k}s" for k, _ in kinds) if len(kinds) < 3 else "benchmarks"

    def register(spec: Any) -> None:
        kind = next((k for k, spec_type in kinds if isinstance(spec, spec_type)), None)
        if kind is None:
            expected = " or ".join(t.__name__ for _, t in kinds)
            _fail(info, f"register() for {what} expects a {expected}, got {spec!r}")
            return
        claims.setdefault((kind, spec.name), []).append(Registered(kind, spec, info))

    try:
        with _quiet_stdout():
            hook(register=register)
    except PluginError:
        raise  # only reached in strict mode: _fail already recorded it
    except Exception as exc:
        _fail(info, f"error while registering {what}: {_describe(exc)}", exc)

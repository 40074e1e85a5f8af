"""The show's sources: started from the patch's `[[inputs]]`, stopped when the show ends or a
reloaded patch drops them.

Place in the data flow: patch inputs -> plugins -> **sources** -> post into the inbox. A source
that fails to start says so once and the show plays without it; a reload restarts only the
inputs whose table changed, so an unchanged OSC port stays bound through an edit.
"""
from __future__ import annotations

from typing import Any, Callable

from liveGAN.params import Param
from liveGAN.patch import Patch, PluginSpec, Problem
from liveGAN.plugins import SOURCE_GROUP, PluginError, create


def _key(spec: PluginSpec) -> tuple:
    return (spec.kind, repr(sorted(spec.options.items())))


def source_params(patch: Patch) -> tuple[list[Param], list[Problem]]:
    """The read-only params the patch's inputs publish, and a problem for each input that is
    not installed or refuses its options (nothing is started)."""
    params: list[Param] = []
    problems: list[Problem] = []
    for spec in patch.inputs:
        try:
            source = create(SOURCE_GROUP, spec.kind, spec.options)
            params.extend(_published(source))
        except PluginError as err:
            problems.append(Problem(str(patch.path), spec.where, str(err),
                                    "an installed input kind with valid options"))
    return params, problems


def _published(source: Any) -> list[Param]:
    params = list(source.params()) if hasattr(source, "params") else []
    for param in params:
        if not isinstance(param, Param) or not param.readonly:
            raise PluginError(f"{type(source).__name__}.params() must return read-only "
                              f"liveGAN.params.Param objects, got {param!r}")
    return params


class SourceSet:
    """The running sources, keyed by their patch table."""

    def __init__(self, post: Callable[..., bool], link, log: Callable[[str, str], None],
                 say: Callable[[str], None]) -> None:
        self._post = post
        self._link = link
        self._log = log
        self._say = say
        self._running: dict[tuple, Any] = {}
        self._extra: list[Any] = []

    def update(self, specs: list[PluginSpec]) -> None:
        """Run exactly the sources of `specs`: stop the dropped ones, start the new ones."""
        wanted = {_key(spec): spec for spec in specs}
        for key in [k for k in self._running if k not in wanted]:
            self._stop(self._running.pop(key))
        for key, spec in wanted.items():
            if key in self._running:
                continue
            try:
                source = create(SOURCE_GROUP, spec.kind, spec.options)
            except PluginError as err:
                self._say(f"input {spec.where}: {err}; playing without it")
                continue
            if self._start(source, spec.kind):
                self._running[key] = source

    def add(self, source: Any, name: str) -> None:
        """Start a source that comes with something else (a window's keyboard)."""
        if self._start(source, name):
            self._extra.append(source)

    def _start(self, source: Any, name: str) -> bool:
        try:
            if hasattr(source, "connect"):
                source.connect(self._link)
            source.start(self._post)
            return True
        except Exception as err:  # noqa: BLE001 - a source that can't start is not the show
            self._say(f"input {name} did not start ({type(err).__name__}: {err}); "
                      "playing without it")
            return False

    def _stop(self, source: Any) -> None:
        try:
            source.stop()
        except Exception as err:  # noqa: BLE001
            self._log("source stop", f"input {type(source).__name__} did not stop cleanly: "
                                     f"{type(err).__name__}: {err}")

    def params(self) -> list[Param]:
        """What the running sources publish (read-only params)."""
        params: list[Param] = []
        for source in list(self._running.values()) + self._extra:
            try:
                params.extend(_published(source))
            except Exception as err:  # noqa: BLE001
                self._log("source params", f"input {type(source).__name__}: {err}")
        return params

    def running(self) -> list[Any]:
        return list(self._running.values()) + list(self._extra)

    def stop(self) -> None:
        for source in self.running():
            self._stop(source)
        self._running.clear()
        self._extra.clear()

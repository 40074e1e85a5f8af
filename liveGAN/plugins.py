"""Sources and sinks, built-in and third-party, found the same way: Python entry points.

Place in the data flow: patch `[[inputs]]` / `[[outputs]]` -> **plugins** (name -> class) ->
the show starts the sources and opens the sinks. liveGAN's own OSC input, keyboard, window and
recorder are entry points of this package (pyproject.toml); another package adds its own under
the same groups and a patch turns it on with `kind = "<name>"`, with no change to liveGAN.

The protocol, the whole of what a plugin author needs (more methods are fine):

```python
class MySource:                              # entry point in group "livegan.sources"
    def __init__(self, options: dict): ...   # the [[inputs]] table minus `kind`; check the
                                             #   options here, open nothing yet
    def params(self) -> list: return []      # read-only liveGAN.params.Param it publishes
    def start(self, post): ...               # post(address: str, *values), from any thread
    def stop(self): ...

class MySink:                                # entry point in group "livegan.sinks"
    def __init__(self, options: dict): ...   # the [[outputs]] table minus `kind`
    def open(self, size: tuple[int, int], fps: float): ...
    def send(self, frame): ...   # frame.pixels() -> HxWx3 uint8 (one shared readback),
                                 # frame.texture (GL), frame.index, frame.time (show seconds)
    def close(self): ...
```

Optional, for plugins that want more of the show:
- `connect(link)` (sources and sinks): called before `start`/`open` with a `ShowLink`
  (`liveGAN.show.link`): the latest per-frame snapshot of values, the address table, the log.
- `params()` (sinks): settable `liveGAN.params.Param`s the sink is controlled with (a
  projector's keystone corners): they join the show's registry, so OSC, mappings and the patch's
  `[params]` set them like any other; the sink reads their values each frame from
  `link.snapshot().values` (a frame late, which a projector never notices).
- `wants_pixels = False` (sinks): the sink needs only `frame.texture`; when no sink wants pixels
  the show reads nothing back.
- `sources()` (sinks): sources this sink also provides (a window provides its keyboard).
- `gl_context` (sinks, set by `open`): a sink that opens an OpenGL window offers its context;
  the show renders in the first one offered (else in a headless EGL context).

A published param's value arrives through `post("/<group>/<name>", value)`, e.g. an audio
input publishing `audio/level` posts `/audio/level 0.3`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import metadata
from typing import Any

SOURCE_GROUP = "livegan.sources"
SINK_GROUP = "livegan.sinks"


class PluginError(ValueError):
    """A plugin that is not installed, does not load, or refuses its options."""


@dataclass(frozen=True)
class PluginInfo:
    """One installed plugin: its kind name, where it comes from, its one-line description."""

    group: str
    name: str
    target: str
    distribution: str
    summary: str


def _entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for entry in metadata.entry_points(group=group):
        # The first one wins, as on sys.path: a user's package cannot shadow a built-in
        # silently, because liveGAN's own entries come first in an installed environment.
        found.setdefault(entry.name, entry)
    return found


def names(group: str) -> list[str]:
    """The kinds installed in `group`, sorted."""
    return sorted(_entry_points(group))


def plugin_class(group: str, kind: str) -> type:
    """The class registered as `kind` in `group`; PluginError naming what is installed."""
    entry = _entry_points(group).get(kind)
    what = "input" if group == SOURCE_GROUP else "output"
    if entry is None:
        installed = ", ".join(names(group)) or "none"
        raise PluginError(f"no {what} kind {kind!r} is installed (installed: {installed}; "
                          f"`livegan plugins` lists them)")
    try:
        return entry.load()
    except Exception as err:  # a broken third-party package must not take liveGAN with it
        raise PluginError(f"{what} kind {kind!r} ({entry.value}) does not load: "
                          f"{type(err).__name__}: {err}") from None


def create(group: str, kind: str, options: dict[str, Any]) -> Any:
    """An instance of plugin `kind` with `options`; PluginError with its message if it refuses."""
    cls = plugin_class(group, kind)
    try:
        return cls(dict(options))
    except PluginError:
        raise
    except Exception as err:
        what = "input" if group == SOURCE_GROUP else "output"
        raise PluginError(f"{what} {kind!r}: {err}") from None


def number_option(who: str, options: dict, key: str, default, lo: float, hi: float,
                  integer: bool = False):
    """`options[key]` (or `default`) checked for a plugin's constructor: a finite number, whole
    when `integer`, within lo..hi; raises ValueError naming the plugin, the key and the value.
    Returns an int when `integer`, else a float."""
    value = options.get(key, default)
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) \
            or not lo <= value <= hi:
        what = "a whole number" if integer else "a number"
        raise ValueError(f"{who}: {key} must be {what} {lo:g}..{hi:g}, not {value!r}")
    return int(value) if integer else float(value)


def installed(group: str) -> list[PluginInfo]:
    """Every plugin in `group` with its origin and summary (first docstring line)."""
    infos = []
    for name, entry in sorted(_entry_points(group).items()):
        dist = entry.dist.name if entry.dist is not None else "?"
        try:
            doc = (entry.load().__doc__ or "").strip().splitlines()
            summary = doc[0] if doc else ""
        except Exception as err:  # listed, with why it can't be used
            summary = f"(does not load: {type(err).__name__}: {err})"
        infos.append(PluginInfo(group, name, entry.value, dist, summary))
    return infos

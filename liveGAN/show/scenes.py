"""Scenes: the whole look of the show stored under a number, recalled at once or by a morph.

Place in the data flow: `/livegan/scene/save <n>`, `/livegan/scene/recall <n> [beats]`, a MIDI
program change, keys 1-9, `/livegan/scene/next` (the patch's `[[cues]]`) -> **scenes** -> param
targets, on the show's thread. A scene holds every settable parameter except the clock's (a
scene is a look, not a tempo). They are kept beside the patch in `<patch>.scenes.toml`, written
atomically on a background thread so the frame loop never waits for the disk.

A morph glides every float from where it is to the scene's value over a number of beats (a
straight line in beats, so a morph of 4 beats lands on the bar); ints and bools (the seed, a
blackout) switch half-way. A value the performer moves during a morph is left to them.
"""
from __future__ import annotations

import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from liveGAN.files import write_text
from liveGAN.params import ParamValues

MAX_SCENE = 128
EXCLUDED_GROUPS = ("clock",)


def scenes_path(patch_path: Path) -> Path:
    """Where the scenes of the patch at `patch_path` are kept: `show.toml` -> `show.scenes.toml`."""
    return patch_path.with_name(patch_path.stem + ".scenes.toml")


def scene_number(value) -> int:
    """A scene number from an OSC or MIDI argument: 1..MAX_SCENE (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or not 1 <= int(value) <= MAX_SCENE:
        raise ValueError(f"a scene is a number 1..{MAX_SCENE}, got {value!r}")
    return int(value)


@dataclass
class _Morph:
    start_beat: float
    beats: float
    start: dict[str, float]
    end: dict[str, float]
    written: dict[str, float]


class Scenes:
    """The scenes of one patch and the morph in progress. Only the show's thread calls it."""

    def __init__(self, say: Callable[[str], None], log: Callable[[str, str], None]) -> None:
        self.say, self.log = say, log
        self.path: Path | None = None
        self.stored: dict[int, dict[str, float]] = {}
        self.cues: list = []
        self.cue_index = -1
        self._morph: _Morph | None = None
        self._writes = 0
        self._write_lock = threading.Lock()

    # -- the patch -------------------------------------------------------------------------

    def adopt(self, patch_path: Path, cues: list) -> None:
        """Read the scenes stored beside the patch (when the patch is a new file)."""
        self.cues = list(cues)
        self.cue_index = min(self.cue_index, len(self.cues) - 1)
        path = scenes_path(Path(patch_path))
        if path == self.path:
            return
        self.path, self.stored = path, {}
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            self.say(f"scenes: {path} could not be read ({err}); starting with none")
            return
        table = data.get("scenes", {})
        for name, values in table.items() if isinstance(table, dict) else ():
            try:
                number = scene_number(int(name))
            except ValueError:
                continue
            if isinstance(values, dict):
                self.stored[number] = {k: float(v) for k, v in values.items()
                                       if isinstance(v, (int, float)) and not isinstance(v, bool)}

    # -- save and recall --------------------------------------------------------------------

    def save(self, number: int, values: ParamValues) -> None:
        """Store the current look as scene `number` and write the file (in the background)."""
        number = scene_number(number)
        self.stored[number] = {p.key: values.target[p.key] for p in values.registry
                               if _in_scene(p)}
        self.say(f"scene {number} saved ({len(self.stored[number])} values)")
        self._write()

    def recall(self, number: int, morph_beats: float, beat: float, values: ParamValues
               ) -> None:
        """Go to scene `number`: at once, or gliding over `morph_beats` beats."""
        number = scene_number(number)
        scene = self.stored.get(number)
        if scene is None:
            saved = ", ".join(str(n) for n in sorted(self.stored)) or "none yet"
            raise ValueError(f"scene {number} is empty (saved: {saved}; "
                             f"/livegan/scene/save {number} stores one)")
        registry = values.registry
        end = {k: v for k, v in scene.items()
               if k in registry and _in_scene(registry[k])}
        if not morph_beats or morph_beats <= 0:
            self._morph = None
            for key, value in end.items():
                values.set_target(key, value)
            return
        start = {key: values.current[key] for key in end}
        self._morph = _Morph(beat, float(morph_beats), start, end, {})
        self.step(beat, values)

    def next_cue(self, step: int = 1) -> tuple[int, float]:
        """The (scene, morph beats) of the next (or previous) cue, which becomes the current one."""
        if not self.cues:
            raise ValueError("the patch has no [[cues]] to step through")
        self.cue_index = (self.cue_index + step) % len(self.cues)
        cue = self.cues[self.cue_index]
        return cue.scene, cue.morph

    @property
    def morphing(self) -> bool:
        return self._morph is not None

    def step(self, beat: float, values: ParamValues) -> None:
        """Move a morph in progress to where it is at `beat`."""
        morph = self._morph
        if morph is None:
            return
        t = min(max((beat - morph.start_beat) / morph.beats, 0.0), 1.0)
        registry = values.registry
        for key, goal in morph.end.items():
            param = registry.get(key)
            if param is None:
                continue
            written = morph.written.get(key)
            if written is not None and values.target[key] != written:
                continue  # the performer took this one over
            if param.kind == "float":
                value = morph.start[key] + (goal - morph.start[key]) * t
                values.set_now(key, value)
            else:
                value = goal if t >= 0.5 else morph.start[key]
                values.set_now(key, value)
            morph.written[key] = values.target[key]
        if t >= 1.0:
            self._morph = None

    # -- the file ---------------------------------------------------------------------------

    def _write(self) -> None:
        if self.path is None:
            return
        path, text = self.path, self.to_toml()
        self._writes += 1

        def write() -> None:
            with self._write_lock:  # saves land in order
                try:
                    write_text(path, text)
                except OSError as err:
                    self.log("scenes write", f"scenes: could not write {path}: {err}")

        threading.Thread(target=write, name="liveGAN-scenes", daemon=True).start()

    def to_toml(self) -> str:
        import tomlkit

        document = tomlkit.document()
        document.add(tomlkit.comment("liveGAN scenes: /livegan/scene/save <n> writes here, "
                                     "/livegan/scene/recall <n> [beats] plays them"))
        scenes = tomlkit.table()
        for number in sorted(self.stored):
            table = tomlkit.table()
            for key, value in sorted(self.stored[number].items()):
                table[key] = value
            scenes[str(number)] = table
        document["scenes"] = scenes
        return tomlkit.dumps(document)


def _in_scene(param) -> bool:
    return not param.readonly and param.kind != "trigger" and param.group not in EXCLUDED_GROUPS


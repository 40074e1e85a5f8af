"""The performer's tools in the show's update: tempo following, quantised actions, scenes, learn.

Place in the data flow: inbox -> control (actions registered here) -> **instrument** -> the rest
of the update (seed steps, latent). Every action below runs on the show's thread; the sources
only post.

Actions:
- `/livegan/clock/sync <source> <bpm> <beat> <time> [playing]`: a tempo source's report
  (liveGAN.clock.TempoSync); `/livegan/clock/source <internal|midi|link|audio>` switches source.
- `/livegan/scene/save <n>`, `/livegan/scene/recall <n> [morph beats]`, `/livegan/scene/next`,
  `/livegan/scene/prev` (the patch's `[[cues]]`); keys 1-9 recall scenes 1-9.
- `/livegan/learn <param>`, `/livegan/learn/cancel`; the L key arms the parameter changed last.
  `/livegan/learn/heard` is what the MIDI source posts for controls no mapping uses.
Seed steps, scene recalls and walk restarts wait for the next beat or bar when `clock/quantize`
says so.
"""
from __future__ import annotations

import time
from typing import Callable

from liveGAN.clock import QUANTIZE_MODES, Quantiser, TempoFollower, TempoSync, lfo_table
from liveGAN.params import OSC_PREFIX
from liveGAN.patch import CLOCK_SOURCES, Patch
from liveGAN.show.learn import Learn
from liveGAN.show.scenes import Scenes, scene_number

QUANTISED_TRIGGERS = ("latent/next_seed", "latent/prev_seed", "clock/restart")
SCENE_KEYS = {f"/key/{n}": n for n in range(1, 10)}
LEARN_KEY = "/key/l"
AUDIO_TEMPO = ("audio/bpm", "audio/beat_phase")


class Instrument:
    """Owns the follower, the quantiser, the scenes and learn; `adopt` and `update` are called
    by the show (see the module docstring)."""

    def __init__(self, control, link, sources, log: Callable[[str, str], None],
                 say: Callable[[str], None], rebind: Callable[[], None]) -> None:
        self.control, self.link, self.sources = control, link, sources
        self.log, self.say, self.rebind = log, say, rebind
        self.follower = TempoFollower(say=say)
        self.quantiser = Quantiser()
        self.scenes = Scenes(say, log)
        self.learn = Learn(say, log)
        self.patch: Patch | None = None
        self._beat = 0.0
        self._live = True
        self._restart = False
        p = OSC_PREFIX
        control.actions.update({
            f"{p}/clock/sync": self._sync,
            f"{p}/clock/source": self._source,
            f"{p}/scene/save": self._save,
            f"{p}/scene/recall": self._recall,
            f"{p}/scene/next": lambda values: self._cue(1),
            f"{p}/scene/prev": lambda values: self._cue(-1),
            f"{p}/learn": self._learn,
            f"{p}/learn/cancel": lambda values: self.learn.cancel(),
            f"{p}/learn/heard": lambda values: self.learn.heard(values, control.registry),
        })

    # -- a new patch (before the control adopts it) --------------------------------------------

    def adopt(self, patch: Patch) -> None:
        self.patch = patch
        actions = self.control.actions
        mapped = {spec.source for spec in patch.mappings}
        # Keys 1-9 and L are the show's own unless the patch maps them to something else.
        for address, number in SCENE_KEYS.items():
            if address in mapped:
                actions.pop(address, None)
            else:
                actions[address] = lambda values, n=number: self._recall((n,))
        if LEARN_KEY in mapped:
            actions.pop(LEARN_KEY, None)
        else:
            actions[LEARN_KEY] = self._learn_last
        self.control.lfos.clear()
        self.control.lfos.update(lfo_table(patch.lfos))
        self.follower.set_source(patch.clock_source)
        self.scenes.adopt(patch.path, patch.cues)
        if hasattr(self.link, "set_mappings"):
            self.link.set_mappings(patch.mappings)

    # -- every frame, after the control's step -------------------------------------------------

    def update(self, fired: set[str], values, clock, latent) -> set[str]:
        """Follow the tempo source, adopt a learned binding, hold or release quantised actions,
        move a morph; returns the triggers the rest of the update acts on this frame."""
        tempo = clock.tempo
        self._live = bool(getattr(clock, "live", False))
        if self._live or self.follower.source == "audio":
            # The audio beat is in the params, so a render to a song (and a replay) follows it
            # too; the other sources report in wall-clock time, live only.
            self._follow(values, clock)
        self._beat = beat = tempo.beat
        now = time.perf_counter()
        self.learn.check(now)
        bound = self.learn.take()
        if bound is not None and self.patch is not None:
            self.patch.mappings = [m for m in self.patch.mappings
                                   if (m.source, m.target) != (bound.source, bound.target)]
            self.patch.mappings.append(bound)
            self.rebind()
            self.learn.write(self.patch.path, bound)
        mode, bar = quantisation(values)
        if mode != "off":
            for key in QUANTISED_TRIGGERS:
                if key in fired and self.quantiser.hold(key, beat, mode, bar):
                    fired.discard(key)
        for name, args in self.quantiser.due(beat):
            if name == "recall":
                self._recall_now(*args)
            else:
                fired.add(name)
        if "clock/restart" in fired:
            latent.phase = 0.0
        self.scenes.step(beat, values)
        return fired

    def _follow(self, values, clock) -> None:
        follower = self.follower
        if follower.source == "internal":
            return
        bpm_key = "clock/bpm"
        if follower.following and follower.written_bpm is not None \
                and values.target[bpm_key] != follower.written_bpm:
            # The performer set a tempo (OSC, tap) while an external source leads: ask it.
            self._request_tempo(values.target[bpm_key])
        audio = None
        if follower.source == "audio" and all(k in values.registry for k in AUDIO_TEMPO):
            audio = (values[AUDIO_TEMPO[0]], values[AUDIO_TEMPO[1]])
        if follower.follow(clock.tempo, clock.tick_at, audio):
            values.set_now(bpm_key, clock.tempo.bpm)
            follower.written_bpm = values.target[bpm_key]
        else:
            follower.written_bpm = None

    def _request_tempo(self, bpm: float) -> None:
        for source in self.sources.running():
            request = getattr(source, "request_tempo", None)
            if request is not None:
                request(bpm)
                return
        self.log("tempo request", f"clock: the tempo follows {self.follower.source}; "
                                  f"{bpm:g} BPM is ignored")

    # -- actions ---------------------------------------------------------------------------

    def _sync(self, values: tuple) -> None:
        self.follower.sync(TempoSync.from_values(values))

    def _source(self, values: tuple) -> None:
        if not values or values[0] not in CLOCK_SOURCES:
            raise ValueError(f"clock source is one of {', '.join(CLOCK_SOURCES)}, "
                             f"got {values[:1]!r}")
        self.follower.set_source(values[0])
        self.say(f"clock: tempo source is now {values[0]}")

    def _save(self, values: tuple) -> None:
        if not values:
            raise ValueError("scene/save takes a scene number")
        self.scenes.save(values[0], self.control.values)

    def _recall(self, values: tuple) -> None:
        if not values:
            raise ValueError("scene/recall takes a scene number and optionally morph beats")
        number = scene_number(values[0])
        morph = float(values[1]) if len(values) > 1 else 0.0
        if not 0.0 <= morph <= 1024.0:
            raise ValueError(f"morph beats must be 0..1024, got {morph}")
        if number not in self.scenes.stored:
            self.scenes.recall(number, morph, self._beat, self.control.values)  # says why
        mode, bar = quantisation(self.control.values)
        if mode != "off" and self.quantiser.hold("recall", self._beat, mode, bar,
                                                  (number, morph)):
            return
        self._recall_now(number, morph)

    def _recall_now(self, number: int, morph: float) -> None:
        # A morph starts on the beat it was quantised to, so it ends on a beat too.
        self.scenes.recall(number, morph, self._beat, self.control.values)

    def _cue(self, step: int) -> None:
        number, morph = self.scenes.next_cue(step)
        self._recall((number, morph))

    def _learn(self, values: tuple) -> None:
        self.learn.arm(values[0] if values else None, self.control.registry,
                       time.perf_counter())

    def _learn_last(self, values: tuple) -> None:
        key = self.control.values.last_changed
        if not key:
            raise ValueError("learn: change a parameter first (L learns the last one changed)")
        self.learn.arm(key, self.control.registry, time.perf_counter())


def quantisation(values) -> tuple[str, int]:
    """("off" | "beat" | "bar", beats per bar) from the clock's params."""
    registry = values.registry
    mode = QUANTIZE_MODES[int(values.typed("clock/quantize"))] \
        if "clock/quantize" in registry else "off"
    bar = int(values.typed("clock/beats_per_bar")) if "clock/beats_per_bar" in registry else 4
    return mode, bar

"""How a show is asked to run: command-line overrides of a patch, and what it reports at the end.

Place in the data flow: `livegan run` / `livegan render` -> **options** -> the show. The
command line may override the patch's inputs and outputs (`--no-osc`, `--osc-port`, `--record`,
`--headless`, `--display`, `--fullscreen`); `plan_inputs` and `plan_outputs` are the one place
those rules live.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from liveGAN.patch import Patch, PluginSpec


@dataclass
class RunOptions:
    """Command-line overrides of a patch; None means "as the patch says"."""

    headless: bool = False
    frames: int | None = None
    duration: float | None = None
    size: tuple[int, int] | None = None
    fps: float | None = None
    record: Path | None = None
    osc_port: int | None = None
    no_osc: bool = False
    display: int | str | None = None   # an index or a name (`livegan devices`)
    fullscreen: bool | None = None
    seed: int | None = None
    device: str | None = None
    offline: bool = False
    watch: bool = True
    progress: bool = False     # a progress bar with ETA on stderr (offline renders)
    replay: object = None      # a liveGAN.show.performance.Replay to play back (render --replay)
    audio: object = None       # a liveGAN.sources.audio.SongFeed: a song's features, frame by
                               #   frame, and its sound for the recording (render --audio)


@dataclass
class Summary:
    """What a finished show prints: frames, generator frames, pacing."""

    frames_shown: int = 0
    generator_frames: int = 0
    interval_p50_ms: float = 0.0
    interval_p99_ms: float = 0.0
    late_frames: int = 0
    extra: dict = field(default_factory=dict)

    def line(self) -> str:
        return (f"frames shown {self.frames_shown}, generator frames {self.generator_frames}, "
                f"display interval p50 {self.interval_p50_ms:.1f} ms p99 "
                f"{self.interval_p99_ms:.1f} ms, late frames {self.late_frames}")


def plan_inputs(patch: Patch, options: RunOptions) -> list[PluginSpec]:
    """The inputs to run: the patch's, minus OSC with `--no-osc`, with `--osc-port`'s port;
    none offline (an offline render plays no live input)."""
    if options.offline:
        return []
    specs = list(patch.inputs)
    if options.no_osc:
        return [s for s in specs if s.kind != "osc"]
    if options.osc_port is not None:
        port = options.osc_port
        if any(s.kind == "osc" for s in specs):
            specs = [replace(s, options={**s.options, "port": port}) if s.kind == "osc" else s
                     for s in specs]
        else:
            specs.append(PluginSpec("osc", {"port": port}, "--osc-port"))
    return specs


def plan_outputs(patch: Patch, options: RunOptions) -> list[PluginSpec]:
    """The outputs to open: the patch's, `--record` replacing the patch's recording (with the
    song of `render --audio` as its sound), and a
    window (from `[output] display / fullscreen`, or `--display` / `--fullscreen`) when the
    show has a screen and the patch lists none; no window headless or offline."""
    specs = list(patch.outputs)
    if options.record is not None:
        specs = [s for s in specs if s.kind != "record"]
        record = {"path": str(options.record)}
        if options.audio is not None:
            record["audio_file"] = str(options.audio.path)   # the song is the sound track
        specs.append(PluginSpec("record", record, "--record"))
    if options.headless or options.offline:
        return [s for s in specs if s.kind != "window"]
    overrides = {}
    if options.display is not None:
        overrides["display"] = options.display
    if options.fullscreen is not None:
        overrides["fullscreen"] = options.fullscreen
    windows = [s for s in specs if s.kind == "window"]
    if windows:
        # `--display` moves the first window output; the others keep their own displays.
        return [replace(s, options={**s.options, **(overrides if s is windows[0] else
                                                    {k: v for k, v in overrides.items()
                                                     if k != "display"})})
                if s.kind == "window" else s for s in specs]
    if patch.window:
        window = {"display": patch.display, "fullscreen": patch.fullscreen, **overrides}
        specs.insert(0, PluginSpec("window", window, "output"))
    return specs

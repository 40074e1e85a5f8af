"""The frame loop: inputs -> params -> latent -> generator -> shader chain -> outputs.

Place in the data flow: this is the one place that owns engine state. Each frame it drains the
inbox (OSC, keys), steps mappings and smoothing, advances the latent walk, posts a request to the
generator worker, uploads the newest generator frame, renders the shader chain and hands the
result to the window and the recorder. Only this loop touches GL objects and parameter values;
heavy work (loading a changed patch's model) happens on the reloader thread and swaps in whole.
"""
from __future__ import annotations

import math
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import moderngl
import numpy as np

from liveGAN.clock import FixedClock, RealtimeClock, interval_stats
from liveGAN.generator import FrameMaker, GeneratorWorker, Request
from liveGAN.latent.walks import LatentState
from liveGAN.params import Param, ParamError, ParamValues, RateLimitedLog, Registry
from liveGAN.patch import Patch, PatchError, check_params, load_patch
from liveGAN.scene import ModelBundle, load_bundle
from liveGAN.signals.mapping import Mapping

SEED_MAX = 2**31 - 1


def standard_params(num_ws: int = 18) -> list[Param]:
    """The show controls every patch has, whatever its model and shaders."""
    return [
        Param("output", "fade", "float", 1.0, 0.0, 1.0, 0.25, "master fade: 0 black, 1 full"),
        Param("output", "blackout", "bool", 0, 0, 1, 0, "cut to black (and back) at once"),
        Param("output", "blend", "bool", 1, 0, 1, 0,
              "blend the last two generator frames when the generator is slower than the display"),
        Param("latent", "speed", "float", 0.25, 0.0, 4.0, 0.5,
              "latent walk speed, radians of walk phase per second"),
        Param("latent", "truncation", "float", 0.8, 0.0, 1.5, 0.3,
              "truncation psi: lower is safer and more average, higher is wilder"),
        Param("latent", "truncation_cutoff", "int", 0, 0, max(num_ws, 1), 0,
              "truncate only the first N layers (0: all layers)"),
        Param("latent", "seed", "int", 0, 0, SEED_MAX, 0,
              "seed of the latent walk; a change glides to the new walk"),
        Param("latent", "next_seed", "trigger", 0, 0, 1, 0, "glide to the next seed"),
        Param("latent", "prev_seed", "trigger", 0, 0, 1, 0, "glide to the previous seed"),
        Param("clock", "bpm", "float", 120.0, 20.0, 300.0, 0, "tempo in beats per minute"),
        Param("clock", "tap", "trigger", 0, 0, 1, 0, "tap tempo: send on each beat"),
    ]


def build_registry(bundle: ModelBundle, chain) -> Registry:
    """Every param of a scene: the show controls, the model's controls, the shader effects'."""
    registry = Registry(standard_params(bundle.num_ws))
    registry.extend(bundle.controls.params())
    registry.extend(chain.params())
    return registry


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
    display: int | None = None
    fullscreen: bool | None = None
    seed: int | None = None
    device: str | None = None
    offline: bool = False
    watch: bool = True


@dataclass
class Summary:
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


class _Reloader:
    """Watches the patch file; on a change parses it and loads a changed model off-thread."""

    def __init__(self, path: Path, current: Patch, device: str | None,
                 log: Callable[[str, str], None]) -> None:
        self.path, self.device, self.log = path, device, log
        self.ready: queue.SimpleQueue = queue.SimpleQueue()
        self._patch = current
        self._stamp = self._stat()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="liveGAN-reload", daemon=True)

    def _stat(self):
        try:
            st = os.stat(self.path)
            return (st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def accepted(self, patch: Patch) -> None:
        self._patch = patch

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            stamp = self._stat()
            if stamp is None or stamp == self._stamp:
                continue
            self._stamp = stamp
            try:
                patch = load_patch(self.path)
            except PatchError as err:
                self.log("patch", f"patch not reloaded, keeping the last good one:\n{err}")
                continue
            bundle = None
            if patch.model != self._patch.model:
                try:
                    bundle = load_bundle(patch.model, self.device,
                                         log=lambda m: self.log("model", m))
                except Exception as err:
                    self.log("patch", f"patch not reloaded, keeping the last good one: "
                                      f"{patch.path}: model: {err}")
                    continue
            self.ready.put((patch, bundle))


class Engine:
    """Builds a scene from a patch and plays it. `run()` returns a Summary."""

    def __init__(self, patch_path: str | Path, options: RunOptions | None = None,
                 print_fn: Callable[[str], None] | None = None,
                 bundle: ModelBundle | None = None) -> None:
        """`bundle` replaces the patch's model (benchmarks use a stand-in generator)."""
        self.options = options or RunOptions()
        self.print = print_fn or (lambda msg: print(msg, flush=True))
        self.log = RateLimitedLog(sink=self.print)
        self.patch = load_patch(patch_path)
        self.bundle = bundle or load_bundle(self.patch.model, self.options.device,
                                            log=lambda m: self.log("model", m))
        self._stop = False
        self.window = None
        self.recorder = None
        self.osc = None

    # ---- building ----------------------------------------------------------------------------

    def _output_size(self) -> tuple[int, int]:
        size = self.options.size or self.patch.size
        return (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)

    def _open_output(self):
        from liveGAN.render.context import headless_context

        size = self._output_size()
        if self.options.headless or self.options.offline:
            return headless_context()
        from liveGAN.outputs.window import Window

        fullscreen = self.patch.fullscreen if self.options.fullscreen is None \
            else self.options.fullscreen
        display = self.patch.display if self.options.display is None else self.options.display
        self.window = Window(size, display=display, fullscreen=fullscreen)
        return self.window.ctx

    def _build_chain(self, patch: Patch):
        from liveGAN.render.chain import ShaderChain, Stage

        stages = [Stage(s.effect, s.name) for s in patch.stages]
        return ShaderChain(self.ctx, stages, self.out_size, search_path=patch.shader_paths,
                           work_size=patch.work_size, log=self.print)

    def _adopt(self, patch: Patch, registry: Registry, previous: Patch | None) -> None:
        """Make `registry` and `patch` current: sync values, apply patch values, mappings, OSC."""
        self.registry = registry
        if not hasattr(self, "values"):
            self.values = ParamValues(registry)
        else:
            self.values.registry = registry
            self.values.sync()
        for key, value in patch.values.items():
            # On a reload only what the edit changed is applied, so live moves aren't undone.
            if previous is None or previous.values.get(key) != value:
                self.values.set_now(key, value)
        self.by_address = registry.by_address()
        self.mappings: dict[str, list[Mapping]] = {}
        for spec in patch.mappings:
            self.mappings.setdefault(spec.source, []).append(Mapping(spec, registry[spec.target]))
        if self.osc is not None:
            self.osc.set_routes(self._routes())
        self.patch = patch

    def _routes(self):
        from liveGAN.signals.osc import Route, routes_from_params

        routes = routes_from_params(self.registry)
        for source in self.mappings:
            routes.setdefault(source, Route("any"))
        return routes

    # ---- the show ----------------------------------------------------------------------------

    def run(self) -> Summary:
        opts = self.options
        self.out_size = self._output_size()
        self.ctx = self._open_output()
        self.chain = self._build_chain(self.patch)
        registry = build_registry(self.bundle, self.chain)
        problems = check_params(self.patch, registry)
        if problems:
            self.chain.release()
            raise PatchError(problems)
        self._adopt(self.patch, registry, None)
        if opts.seed is not None:
            self.values.set_now("latent/seed", opts.seed)
        fps = opts.fps or self.patch.fps
        bpm = self.values["clock/bpm"]
        clock = FixedClock(fps, bpm) if opts.offline else RealtimeClock(fps, bpm)
        self.clock = clock
        self.latent = LatentState(self.patch.walk, self.values.typed("latent/seed"),
                                  self.bundle.z_dim)

        from liveGAN.render.upload import TextureUploader

        self.uploader = TextureUploader(self.ctx)
        self._textures: list = []
        worker = None
        if not opts.offline:
            worker = GeneratorWorker(FrameMaker(self.bundle.runtime, self.bundle.controls),
                                     self.log)
            worker.start()
        self.worker = worker
        self.sync_maker = FrameMaker(self.bundle.runtime, self.bundle.controls) \
            if opts.offline else None

        record_path = opts.record or self.patch.record
        if record_path is not None:
            from liveGAN.outputs.record import Recorder

            record_path = Path(record_path)
            free, number = record_path, 1
            while free.exists():  # never replace a recording the user already has
                free = record_path.with_name(f"{record_path.stem}-{number}{record_path.suffix}")
                number += 1
            if free != record_path:
                self.print(f"{record_path} exists; recording to {free} instead")
            self.recorder = Recorder(free, self.out_size, fps, log=self.print)

        osc_port = None if opts.no_osc or opts.offline else \
            (opts.osc_port if opts.osc_port is not None else self.patch.osc_port)
        if osc_port is not None:
            from liveGAN.signals.osc import OscServer
            from liveGAN.params import Inbox

            self.inbox = Inbox()
            try:
                self.osc = OscServer(self.inbox, port=osc_port, host=self.patch.osc_host,
                                     log=self.log)
                self.osc.set_routes(self._routes())
                self.osc.start()
                self.print(f"OSC listening on {self.patch.osc_host}:{self.osc.port}")
            except OSError as err:
                self.print(f"OSC port {osc_port} unavailable ({err}); playing without OSC")
                self.osc = None
        else:
            from liveGAN.params import Inbox

            self.inbox = Inbox()

        reloader = None
        if opts.watch and not opts.offline:
            reloader = _Reloader(self.patch.path, self.patch, opts.device, self.log)
            reloader.start()

        summary = Summary()
        try:
            self._loop(clock, reloader, summary)
        finally:
            if reloader is not None:
                reloader.stop()
            if worker is not None:
                worker.stop()
            if self.osc is not None:
                self.osc.stop()
            if self.recorder is not None:
                self.recorder.close()
            if self.window is not None:
                self.window.close()
        stats = interval_stats(getattr(clock, "intervals", []))
        summary.frames_shown = self.frames_shown
        summary.generator_frames = worker.frames_made if worker else self.frames_shown
        summary.interval_p50_ms = stats["p50_ms"] if not opts.offline else 1000.0 / fps
        summary.interval_p99_ms = stats["p99_ms"] if not opts.offline else 1000.0 / fps
        summary.late_frames = clock.late_frames
        return summary

    def _loop(self, clock, reloader, summary: Summary) -> None:
        from liveGAN.render.chain import FrameUniforms

        opts = self.options
        uniforms = FrameUniforms()
        shown_seq = -1
        arrivals: tuple[float, float] = (0.0, 0.0)
        gen_interval = 0.0
        blackout_level = 0.0
        last_watch = 0.0
        recorded = 0
        self.frame_costs: list[float] = []
        self.frames_shown = 0
        while not self._stop:
            dt = clock.tick()
            now = clock.now()
            work_start = time.perf_counter()
            generated_ms = 0.0
            if opts.frames is not None and self.frames_shown >= opts.frames:
                break
            if opts.duration is not None and clock.time >= opts.duration:
                break

            # Inputs: keys, OSC; then mappings and smoothing.
            triggers = self._drain_inputs()
            if self.window is not None:
                for action in self.window.poll():
                    triggers.update(self._window_action(action))
            for mapping_list in self.mappings.values():
                for mapping in mapping_list:
                    mapping.step(dt, self.values)
            self.values.step(dt)
            self._handle_triggers(triggers, now, clock)

            # Latent and generator.
            clock.tempo.bpm = self.values["clock/bpm"]
            self.latent.set_seed(self.values.typed("latent/seed"))
            z = self.latent.advance(dt, self.values["latent/speed"], clock.tempo.beat)
            request = Request(z=z, truncation_psi=self.values["latent/truncation"],
                              truncation_cutoff=self.values.typed("latent/truncation_cutoff"),
                              values=self.values.snapshot(),
                              noise_mode=self.patch.model.noise_mode, seq=clock.frame)
            if self.worker is not None:
                self.worker.submit(request)
                frame = self.worker.latest()
            else:
                from liveGAN.generator import Frame

                started = time.perf_counter()
                frame = Frame(self.sync_maker(request), clock.frame, now, 0.0)
                generated_ms = time.perf_counter() - started
            if frame is not None and frame.seq != shown_seq:
                self._upload(frame.pixels)
                if shown_seq >= 0:
                    step = frame.done_at - arrivals[1]
                    gen_interval = step if gen_interval == 0 else 0.8 * gen_interval + 0.2 * step
                arrivals = (arrivals[1], frame.done_at)
                shown_seq = frame.seq
            if not self._textures:
                # Nothing generated yet (the model's first frame is on its way): stay black.
                if self.window is not None:
                    self.window.present(None)
                continue
            if self.values["output/blend"] >= 0.5 and gen_interval > 0 and self.worker:
                mix = min(max((time.perf_counter() - arrivals[1]) / gen_interval, 0.0), 1.0)
            else:
                mix = 1.0

            # Render.
            blackout_goal = 1.0 if self.values["output/blackout"] >= 0.5 else 0.0
            blackout_level += (blackout_goal - blackout_level) * (1 - math.exp(-dt / 0.05)) \
                if dt > 0 else 0.0
            uniforms.time, uniforms.frame = clock.time, clock.frame
            uniforms.beat, uniforms.beat_phase = clock.tempo.beat, clock.tempo.beat_phase
            uniforms.bpm = clock.tempo.bpm
            uniforms.fade = self.values["output/fade"] * (1.0 - blackout_level)
            out = self.chain.render((self._textures[0], self._textures[1]), mix,
                                    self.values.current, uniforms)
            if self.window is not None:
                # The chain's output is in GL orientation (row 0 at the bottom).
                self.window.present(out, self._hud(clock) if self.window.hud_visible else None,
                                    rows_top_first=False)
            if self.recorder is not None:
                recorded = self._record(out, clock, recorded)
            self.frames_shown += 1

            # What this frame cost the render thread, the generator excluded (for benchmarks).
            self.frame_costs.append(time.perf_counter() - work_start - generated_ms)
            if len(self.frame_costs) > 100_000:
                del self.frame_costs[:50_000]

            # Hot reload, a few times a second (a stat per file, no parsing on this thread).
            if now - last_watch > 0.5 and opts.watch and not opts.offline:
                last_watch = now
                if self.chain.check_reload():
                    self._rebuild_registry()
                if reloader is not None:
                    self._apply_reload(reloader)

    # ---- pieces of the loop --------------------------------------------------------------------

    def _drain_inputs(self) -> set[str]:
        triggers: set[str] = set()
        for address, value, _source in self.inbox.drain(4096):
            param = self.by_address.get(address)
            if param is not None:
                if param.kind == "trigger":
                    if value:  # 0 is a button's release, not a second press
                        triggers.add(param.key)
                else:
                    try:
                        self.values.set_target(param.key, value)
                    except ParamError as err:
                        self.log("input", f"input ignored: {err}")
            for mapping in self.mappings.get(address, ()):
                try:
                    mapping.receive(float(value))
                except (TypeError, ValueError):
                    self.log("input", f"mapping {address}: not a number: {value!r}")
        return triggers

    def _window_action(self, action: str) -> set[str]:
        if action == "quit":
            self._stop = True
        elif action == "blackout":
            self.values.set_now("output/blackout", 1 - self.values["output/blackout"])
            self.values.last_changed = "output/blackout"
        elif action == "next_seed":
            return {"latent/next_seed"}
        return set()

    def _handle_triggers(self, triggers: set[str], now: float, clock) -> None:
        seed = self.values.typed("latent/seed")
        if "latent/next_seed" in triggers:
            self.values.set_target("latent/seed", (seed + 1) % (SEED_MAX + 1))
        if "latent/prev_seed" in triggers:
            self.values.set_target("latent/seed", (seed - 1) % (SEED_MAX + 1))
        if "clock/tap" in triggers:
            bpm = clock.tempo.tap(now)
            if bpm is not None:
                self.values.set_now("clock/bpm", bpm)
            self.values.last_changed = "clock/tap"

    def _upload(self, pixels) -> None:
        height, width = int(pixels.shape[0]), int(pixels.shape[1])
        if not self._textures or self._textures[0].size != (width, height):
            for texture in self._textures:
                texture.release()
            self._textures = [self.ctx.texture((width, height), 4) for _ in range(2)]
            for texture in self._textures:
                texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
                self.uploader.upload(pixels, texture)
        # The older frame's texture receives the newest frame and becomes the newer one.
        older, newer = self._textures
        self.uploader.upload(pixels, older)
        self._textures = [newer, older]

    def _record(self, out, clock, recorded: int) -> int:
        width, height = self.out_size
        data = out.read(components=3)
        frame = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)[::-1]
        # Constant frame rate against the clock: a late display frame is written twice rather
        # than letting the video run fast.
        due = int(round(clock.time * clock.fps)) + 1 if not self.options.offline \
            else clock.frame + 1
        copies = max(1, min(due - recorded, 4))
        for _ in range(copies):
            self.recorder.write(frame, block=self.options.offline)
        return recorded + copies

    def _hud(self, clock) -> list[str]:
        intervals = getattr(clock, "intervals", [])[-60:]
        fps = len(intervals) / sum(intervals) if intervals and sum(intervals) > 0 else 0.0
        gens = self.worker.gen_times[-30:] if self.worker else []
        gen_ms = 1000.0 * sorted(gens)[len(gens) // 2] if gens else 0.0
        last = self.values.last_changed or "-"
        value = self.values.current.get(last)
        shown = f"{last} = {value:.3g}" if value is not None else last
        return [f"{fps:5.1f} fps   generator {1000.0 / gen_ms if gen_ms else 0:5.1f} fps "
                f"({gen_ms:.0f} ms)", f"seed {self.latent.seed}   bpm {clock.tempo.bpm:.1f}",
                f"last: {shown}"]

    def _rebuild_registry(self) -> None:
        registry = build_registry(self.bundle, self.chain)
        self._adopt(self.patch, registry, self.patch)

    def _apply_reload(self, reloader: _Reloader) -> None:
        try:
            patch, bundle = reloader.ready.get_nowait()
        except queue.Empty:
            return
        bundle = bundle or self.bundle
        chain = self.chain
        new_chain = None
        try:
            if [(s.effect, s.name) for s in patch.stages] != \
                    [(s.effect, s.name) for s in self.patch.stages] \
                    or patch.shader_paths != self.patch.shader_paths \
                    or patch.work_size != self.patch.work_size:
                new_chain = self._build_chain(patch)
                chain = new_chain
            registry = build_registry(bundle, chain)
            problems = check_params(patch, registry)
            if problems:
                raise PatchError(problems)
        except Exception as err:
            if new_chain is not None:
                new_chain.release()
            self.print(f"patch not reloaded, keeping the last good one:\n{err}")
            return
        if new_chain is not None:
            self.chain.release()
            self.chain = new_chain
        if bundle is not self.bundle:
            self.bundle = bundle
            if self.worker is not None:
                self.worker.set_generate(FrameMaker(bundle.runtime, bundle.controls))
            self.latent = LatentState(patch.walk, self.latent.seed, bundle.z_dim)
        self.latent.set_kind(patch.walk)
        self._adopt(patch, registry, self.patch)
        reloader.accepted(patch)
        self.print(f"patch reloaded: {patch.path}")

    def stop(self) -> None:
        """Ask the loop to end after the current frame (from any thread)."""
        self._stop = True

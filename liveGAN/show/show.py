"""The show: sources -> update -> view -> sinks, once per displayed frame.

Place in the data flow: this is the one thread that owns parameter values and GL objects.
`Show.run` sets the scene up (sinks first, since a window brings the GL context; then the chain,
the sources, the registry, the clock and the generation), plays `update` then `view` until the
show ends, and takes everything down again. What each stage does lives in its own module:
control (events -> params), instrument (tempo, scenes, learn), generation (the model, its walk
and its frames, live or offline), view (the picture), sinks, sources, reload, performance (the
log a recorded show leaves, and its replay).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from liveGAN.clock import FixedClock, RealtimeClock, interval_stats
from liveGAN.latent.walks import SEED_MAX
from liveGAN.log import RateLimitedLog
from liveGAN.params import OSC_PREFIX, Registry
from liveGAN.patch import Patch, PatchError, check_params, load_patch
from liveGAN.show.control import Control
from liveGAN.show.frames import FrameMaker, Request
from liveGAN.show.generation import Generation
from liveGAN.show.inbox import Inbox
from liveGAN.show.instrument import Instrument
from liveGAN.show.link import ShowLink, Snapshot
from liveGAN.show.options import RunOptions, Summary, plan_inputs, plan_outputs
from liveGAN.show.performance import PerformanceLog, log_path_for
from liveGAN.show.preflight import measure_start
from liveGAN.show.reload import Reloader
from liveGAN.show.scene import ModelBundle, load_bundle, scene_registry
from liveGAN.show.sinks import SinkSet, sink_params
from liveGAN.show.sources import SourceSet, source_params
from liveGAN.show.view import View, build_chain, same_chain

WATCH_EVERY_S = 0.5


class Show:
    """Plays a patch. `run()` returns a Summary; `stop()` ends it from any thread.

    `bundle` replaces the patch's model (benchmarks and tests use a stand-in generator).
    `patch_path` may be an already read Patch (a replay's, from its performance log).
    A live show with a recording writes its performance log beside it (`show.performance`);
    `options.replay` plays one back (liveGAN.show.performance).
    """

    def __init__(self, patch_path: str | Path | Patch, options: RunOptions | None = None,
                 print_fn: Callable[[str], None] | None = None,
                 bundle: ModelBundle | None = None) -> None:
        self.options = options or RunOptions()
        self.print = print_fn or (lambda msg: print(msg, flush=True))
        self.log = RateLimitedLog(sink=self.print)
        self.patch = patch_path if isinstance(patch_path, Patch) else load_patch(patch_path)
        # The model side; a bundle handed in (a stand-in) is the caller's and never closed.
        self.generation = Generation(
            bundle or load_bundle(self.patch.model, self.options.device,
                                  log=lambda m: self.log("model", m)),
            self.patch.model if bundle is None else None, self.log, self.log.say)
        self.link = ShowLink(self.log, self.log.say)
        self.inbox = Inbox()
        self.control = Control(self.log)
        self.control.actions[f"{OSC_PREFIX}/quit"] = lambda values: self.stop()
        self.control.actions[f"{OSC_PREFIX}/latent/keep"] = self.generation.keep
        self.sinks = SinkSet(self.link, self.log, self.log.say)
        self.sources = SourceSet(self.inbox.post, self.link, self.log, self.log.say)
        # Tempo sources, quantised actions, scenes and learn (their actions go in control).
        self.instrument = Instrument(self.control, self.link, self.sources, self.log,
                                     self.log.say,
                                     rebind=lambda: self._adopt(self.patch, previous=self.patch))
        self._drained_at = 0.0
        self.replay = self.options.replay
        self.performance: PerformanceLog | None = None
        self.clock: FixedClock | None = None
        self.frame_costs: list[float] = []
        self.frames_shown = 0
        self._stop = False

    # -- what tests and reporters read ----------------------------------------------------

    @property
    def values(self):
        return self.control.values

    @property
    def registry(self) -> Registry:
        return self.control.registry

    # The model side, as the rest of the show and the tests name it.
    bundle = property(lambda self: self.generation.bundle)
    latent = property(lambda self: self.generation.latent)
    frames = property(lambda self: self.generation.frames)

    @property
    def exposure(self):
        return self.generation.exposure

    @exposure.setter
    def exposure(self, guide) -> None:  # a replay plays the live show's measurement
        self.generation.exposure = guide

    def source(self, kind: str):
        """The running source of class `kind` (e.g. 'OscSource'), or None."""
        return next((s for s in self.sources.running() if type(s).__name__ == kind), None)

    def stop(self) -> None:
        """Ask the show to end after the current frame (from any thread)."""
        self._stop = True

    # -- setting up and taking down -----------------------------------------------------------

    def run(self) -> Summary:
        opts, patch = self.options, self.patch
        size = opts.size or patch.size
        self.out_size = (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)
        fps = opts.fps or patch.fps
        self.sinks.open(plan_outputs(patch, opts), self.out_size, fps, realtime=not opts.offline)
        reloader = None
        try:
            ctx = self.sinks.gl_context()
            if ctx is None:
                from liveGAN.render.context import headless_context

                ctx = headless_context()
            self.view = View(ctx, build_chain(ctx, patch, self.out_size, self.log.say))
            self.sinks.attach(ctx)
            self.sources.update(plan_inputs(patch, opts))
            for kind, source in self.sinks.sources():
                self.sources.add(source, kind)
            problems = check_params(patch, self._registry(self.bundle, self.view.chain, patch))
            if problems:
                raise PatchError(problems)
            self._adopt(patch, previous=None)
            if opts.seed is not None:
                self.values.set_now("latent/seed", opts.seed)
            bpm = self.values["clock/bpm"]
            self.clock = FixedClock(fps, bpm) if opts.offline else RealtimeClock(fps, bpm)
            if self.replay is not None:
                self.clock = self.replay.clock(fps, bpm)
            make = self.generation.start(patch, self.values, live=not opts.offline)
            if not opts.offline:
                self._preflight(make, fps)
            if opts.watch and not opts.offline:
                reloader = Reloader(patch.path, patch, opts.device, self.log, self.log.say)
                reloader.start()
            self._start_performance_log(fps)
            self._play(reloader)
        finally:
            if reloader is not None:
                reloader.stop()
            if self.performance is not None:
                self.performance.close()
            self.sources.stop()
            self.generation.stop()
            view = getattr(self, "view", None)
            if view is not None:
                view.release()  # before a window sink takes its GL context away
            self.sinks.close()
        return self._summary(fps)

    def _start_performance_log(self, fps: float) -> None:
        """A live show that records also records its performance, beside the first recording
        (a log that cannot be opened is said once; the show plays on)."""
        recordings = self.sinks.recordings()
        if self.options.offline or not recordings:
            return
        path = log_path_for(recordings[0])
        try:
            self.performance = PerformanceLog(path, self.log.say)
        except OSError as err:
            self.log.say(f"performance log {path} is off: {err}")
            return
        spec = self.generation.spec
        self.performance.start(self.patch, fps, self.out_size, self.values.typed("latent/seed"),
                               self.view.chain.sources(), spec.path if spec else None)
        self.log.say(f"performance log: {path} (livegan render --replay {path} --out VIDEO)")

    def _preflight(self, make: FrameMaker, fps: float) -> None:
        """Say once which devices render and generate and what frame rate to expect."""
        values = self.values
        request = Request(z=self.latent.walk.position(0.0),
                          truncation_psi=values["latent/truncation"],
                          truncation_cutoff=values.typed("latent/truncation_cutoff"),
                          values=values.snapshot(), noise_mode=self.patch.model.noise_mode)
        try:
            report = measure_start(self.view, make, request, self.clock, fps)
        except Exception as err:  # noqa: BLE001 - a failed timing must not stop the show
            self.log("preflight", f"start-up timing failed: {type(err).__name__}: {err}")
            return
        for line in report.lines():
            self.print(line)

    def _summary(self, fps: float) -> Summary:
        clock = self.clock
        stats = interval_stats(getattr(clock, "intervals", []))
        period_ms = 1000.0 / fps
        return Summary(
            frames_shown=self.frames_shown,
            generator_frames=self.frames.frames_made,
            interval_p50_ms=period_ms if self.options.offline else stats["p50_ms"],
            interval_p99_ms=period_ms if self.options.offline else stats["p99_ms"],
            late_frames=clock.late_frames)

    def _adopt(self, patch: Patch, previous: Patch | None, bundle: ModelBundle | None = None
               ) -> None:
        """Make `patch` (and `bundle`'s model) the scene: registry, values, address table."""
        registry = self._registry(bundle or self.bundle, self.view.chain, patch)
        self.instrument.adopt(patch)
        self.control.adopt(registry, patch, previous)
        self.inbox.set_continuous(self.control.continuous())
        self.inbox.set_waking(self.control.waking())
        self.link.set_scene(registry, self.control.address_kinds())
        self.patch = patch

    def _registry(self, bundle: ModelBundle, chain, patch: Patch) -> Registry:
        # The patch's outputs declare their params even when not open (a window headless or
        # offline), so the patch's values for them stay valid.
        published = self.sources.params()
        outputs = self.sinks.params() + sink_params(patch)[0]
        if self.replay is not None:
            # A replay opens no inputs and no window, yet plays what the live ones declared.
            published, outputs = source_params(patch)[0], sink_params(patch)[0]
        elif self.options.offline:
            published = source_params(patch)[0]  # a render opens no inputs: they rest
        song = self.options.audio
        if song is not None:
            # A render to a song: its features are the audio params, whatever input is listed.
            published = [p for p in published if p.group != "audio"] + song.params()
        return scene_registry(bundle.num_ws, bundle.controls.params(), chain.params(),
                              published, outputs)

    # -- the loop ---------------------------------------------------------------------------

    def _play(self, reloader: Reloader | None) -> None:
        opts, clock = self.options, self.clock
        last_watch = 0.0
        bar = self._progress_bar()
        try:
            while not self._stop and self._frame():
                if bar is not None:
                    bar.update(1)
                now = clock.now()
                if opts.watch and not opts.offline and now - last_watch > WATCH_EVERY_S:
                    last_watch = now
                    self._watch(reloader)
        finally:
            if bar is not None:
                bar.close()

    def _progress_bar(self):
        """tqdm's bar with ETA for a render (`progress`), else None."""
        opts = self.options
        if not opts.progress:
            return None
        from tqdm import tqdm

        total = opts.frames if opts.frames is not None else \
            int(round(opts.duration * self.clock.fps)) if opts.duration is not None else None
        return tqdm(total=total, unit="frame", desc="render", dynamic_ncols=True)

    def _frame(self) -> bool:
        """One displayed frame, update then view; False once the show's length is reached."""
        opts, clock = self.options, self.clock
        # Live, a control's arrival ends the wait at once: the update (and the generator's
        # request) happen now, the presentation at the frame's deadline (clock.present).
        # (Offline and replay clocks never wait, so they ignore it.)
        dt = clock.tick(self.inbox.arrived)
        if opts.frames is not None and self.frames_shown >= opts.frames:
            return False
        if opts.duration is not None and clock.time >= opts.duration:
            return False
        if self.replay is not None:
            self.replay.before_update(self)
        started = time.perf_counter()
        request = self.update(dt)
        clock.present()
        self.view_frame(request)
        # What this frame cost the show's thread, offline generation excluded (benchmarks).
        cost = time.perf_counter() - started
        if not self.frames.live:
            cost -= self.frames.last_ms / 1000.0
        self.frame_costs.append(cost)
        if len(self.frame_costs) > 100_000:
            del self.frame_costs[:50_000]
        return True

    def update(self, dt: float) -> Request:
        """Inbox -> params -> clock -> latent -> this frame's generator request."""
        control, values, clock = self.control, self.control.values, self.clock
        self._drained_at = time.perf_counter()
        latest, events = self.inbox.drain() if self.replay is None \
            else self.replay.events(clock.frame)
        if self.options.audio is not None:
            latest.update(self.options.audio.posts(clock.frame))  # this frame of the song
        control.apply(latest, events)
        fired = control.step(dt, clock.tempo.beat)
        fired = self.instrument.update(fired, values, clock, self.latent)
        seed = values.typed("latent/seed")
        if "latent/next_seed" in fired:
            values.set_target("latent/seed", (seed + 1) % (SEED_MAX + 1))
        if "latent/prev_seed" in fired:
            values.set_target("latent/seed", (seed - 1) % (SEED_MAX + 1))
        if "clock/tap" in fired:
            # The frame's time, not the wall clock's: a replay taps at the same moments.
            bpm = clock.tempo.tap(clock.time)
            if bpm is not None:
                values.set_now("clock/bpm", bpm)
        clock.tempo.bpm = values["clock/bpm"]
        request = self.generation.request(dt, values, clock, self.patch.model.noise_mode)
        # Hand it to the generator now (live): a request that carries a new control may take
        # the place of the frame the generator is making (liveGAN.show.frames).
        self.generation.submit(request, urgent=self.inbox.woke)
        if self.performance is not None:
            self.performance.frame(clock, latest, events, request, self.exposure)
        elif self.replay is not None:
            self.replay.check(clock.frame, request.values, request.z, clock.tempo.beat,
                              clock.tempo.bpm)
        return request

    def view_frame(self, request: Request) -> None:
        """Generator request -> newest frame -> chain -> sinks; then publish the snapshot."""
        clock, frames = self.clock, self.frames
        frame = self.generation.frame(request)
        if frame is not None and frame.seq != getattr(self, "_shown_seq", -1):
            self.view.upload(frame.pixels)
            self._shown_seq = frame.seq
        blend = request.values["output/blend"] >= 0.5
        mix = frames.mix(time.perf_counter()) if blend else 1.0
        out = self.view.render(mix, request.values, clock)
        self.sinks.send(out, clock.frame, clock.time)
        self.frames_shown += 1
        self._publish(request, frame)

    def _publish(self, request: Request, frame) -> None:
        clock = self.clock
        intervals = getattr(clock, "intervals", None)
        recent = intervals[-30:] if intervals else ()
        fps = len(recent) / sum(recent) if recent and sum(recent) > 0 else clock.fps
        gens = self.frames.gen_times[-15:]
        gen_s = sorted(gens)[len(gens) // 2] if gens else 0.0
        self.link.publish(Snapshot(
            frame=clock.frame, time=clock.time, values=request.values,
            bpm=clock.tempo.bpm, beat=clock.tempo.beat, beat_phase=clock.tempo.beat_phase,
            fps=fps, generator_fps=1.0 / gen_s if gen_s > 0 else 0.0,
            generator_ms=1000.0 * gen_s, seed=self.latent.seed, patch=str(self.patch.path),
            last_changed=self.values.last_changed, presented_at=time.perf_counter(),
            started_at=time.perf_counter() - clock.now() if clock.live else 0.0,
            drained_at=self._drained_at, beat_at=clock.tick_at if clock.live else 0.0))

    # -- between frames: hot reload -------------------------------------------------------

    def _watch(self, reloader: Reloader | None) -> None:
        """A few times a second: shader files (a stat each) and the reloader's offer."""
        try:
            self.reload_shaders()
            offered = reloader.take() if reloader is not None else None
            if offered is not None:
                self._reload(reloader, *offered)
        except Exception as err:  # noqa: BLE001 - a failed reload keeps the last good scene
            self.log("reload", f"patch not reloaded, keeping the last good one: "
                               f"{type(err).__name__}: {err}")

    def reload_shaders(self, trial: bool = True) -> None:
        """Recompile the effects whose files changed (a new program proves its speed first
        unless `trial` is False: a replay takes what the live show took)."""
        chain = self.view.chain
        params_changed = chain.check_reload(trial=trial)
        if chain.reloaded and self.performance is not None:
            self.performance.edit(self.clock.frame + 1, shaders=chain.reloaded)
        if params_changed:
            self._adopt(self.patch, previous=self.patch)

    def apply_edit(self, patch: Patch, bundle: ModelBundle | None = None) -> None:
        """Adopt an edited patch now, as a hot reload does (a replay's edits)."""
        self._reload(None, patch, bundle)

    def _reload(self, reloader: Reloader | None, patch: Patch, bundle: ModelBundle | None
                ) -> None:
        """Adopt a re-read patch (and its newly loaded model), or keep the last good one."""
        bundle = bundle or self.bundle
        new_chain = None
        try:
            if not same_chain(patch, self.patch):
                new_chain = build_chain(self.view.ctx, patch, self.out_size, self.log.say)
            chain = new_chain or self.view.chain
            published, problems = source_params(patch)
            registry = scene_registry(bundle.num_ws, bundle.controls.params(), chain.params(),
                                      published, self.sinks.params() + sink_params(patch)[0])
            problems += check_params(patch, registry)
            if problems:
                raise PatchError(problems)
        except Exception as err:  # noqa: BLE001 - a broken edit: one message, nothing changes
            if new_chain is not None:
                new_chain.release()
            self.log.say(f"patch not reloaded, keeping the last good one:\n{err}")
            return
        try:
            latent = self.generation.prepare(patch, bundle)
        except Exception as err:  # noqa: BLE001 - a walk that can't be made: keep the last
            self.log.say(f"patch not reloaded, keeping the last good one: {patch.path}: "
                         f"latent: {err}")
            if new_chain is not None:
                new_chain.release()
            return
        if new_chain is not None:
            self.view.set_chain(new_chain)
        if bundle is not self.bundle:
            self.generation.swap(bundle, patch.model, latent, self.values,
                                 patch.model.crossfade)
        self.sources.update(plan_inputs(patch, self.options))
        self._adopt(patch, previous=self.patch, bundle=bundle)
        if reloader is not None:
            reloader.accepted(patch)
        if self.performance is not None:
            self.performance.edit(self.clock.frame + 1, patch=patch)
        self.log.say(f"patch reloaded: {patch.path}")

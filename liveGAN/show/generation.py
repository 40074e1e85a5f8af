"""The model side of the show: which model plays, where its walk is, and its frames.

Place in the data flow: params (from the show's update) -> **generation** (latent walk ->
exposure steering -> a generator request -> frames, live or offline) -> the view. It owns the
loaded model bundle, the latent walk, the exposure guide that keeps the walk out of dark
latents, the generator frames (a worker thread live, every frame in turn offline), a model swap's
crossfade, and the keyframes a performer keeps. The show calls it once a frame; nothing here
touches GL or the inbox.
"""
from __future__ import annotations

from typing import Callable

from liveGAN.latent.exposure import ExposureGuide
from liveGAN.latent.state import LatentState
from liveGAN.latent.walks import pulsed_truncation
from liveGAN.patch import ModelSpec, Patch
from liveGAN.show.frames import FrameMaker, LiveFrames, OfflineFrames, Request
from liveGAN.show.scene import ModelBundle


class Generation:
    """A model played along a latent walk. `spec` is where the model came from (its file or
    preset: the exposure measurement is cached by it), None for a model handed in by a caller
    (a benchmark's stand-in), which the show never closes."""

    def __init__(self, bundle: ModelBundle, spec: ModelSpec | None,
                 log: Callable[[str, str], None], say: Callable[[str], None]) -> None:
        self.bundle = bundle
        self.spec = spec
        self._given = bundle if spec is None else None
        self.log, self.say = log, say
        self.latent: LatentState | None = None
        self.exposure: ExposureGuide | None = None
        self.frames: LiveFrames | OfflineFrames | None = None
        self.crossfade = None   # (Crossfade, the new model's maker, the old bundle) mid-swap
        self.z = None           # the latent of the newest request (what `keep` bookmarks)

    # -- start and end ---------------------------------------------------------------------

    def start(self, patch: Patch, values, live: bool) -> FrameMaker:
        """The walk from the patch, the exposure guide and the frames; returns the maker (the
        show times it at start). Offline, the dark-latent measurement is waited for, so every
        frame of a render is steered alike."""
        bundle = self.bundle
        self.latent = LatentState(patch.walk, values.typed("latent/seed"), bundle.z_dim,
                                  options=patch.walk_options, store=bundle.keyframes)
        make = FrameMaker(bundle.runtime, bundle.controls)
        self.exposure = self._guide(bundle, self.spec, values)
        if not live and values["latent/avoid_dark"] > 0:
            self.exposure.wait()
        self.frames = LiveFrames(make, self.log) if live else OfflineFrames(make)
        return make

    def stop(self) -> None:
        if self.exposure is not None:
            self.exposure.stop()
        if self.frames is not None:
            self.frames.stop()
        if self.bundle is not self._given:
            self.bundle.close()  # background directions stop, kept keyframes are written

    def _guide(self, bundle: ModelBundle, spec: ModelSpec | None, values) -> ExposureGuide:
        path = spec.path if spec is not None else None
        preset = spec.preset if spec is not None else None
        return ExposureGuide.for_model(bundle.G, bundle.z_dim, values["latent/truncation"],
                                       path, preset, log=lambda m: self.log("exposure", m))

    # -- every frame -----------------------------------------------------------------------

    def request(self, dt: float, values, clock, noise_mode: str) -> Request:
        """Advance the walk by one frame and say what to generate for it."""
        latent = self.latent
        latent.set_seed(values.typed("latent/seed"))
        z = latent.advance(dt, values["latent/speed"] + values["latent/motion"],
                           clock.tempo.beat)
        z = self.exposure.steer(z, values["latent/avoid_dark"], dt)
        self.z = z
        return Request(z=z, truncation_psi=pulsed_truncation(values["latent/truncation"],
                                                             values["latent/pulse"]),
                       truncation_cutoff=values.typed("latent/truncation_cutoff"),
                       values=values.snapshot(), noise_mode=noise_mode, seq=clock.frame,
                       time=clock.time)

    def submit(self, request: Request, urgent: bool = False) -> None:
        """Live: hand the request to the generator at once (`urgent`: it carries a control
        that just arrived). Offline every frame is made in turn by `frame`."""
        if self.frames.live:
            self.frames.submit(request, urgent)

    def frame(self, request: Request):
        """Hand over this frame's request; the newest finished frame (None before the first)."""
        frame = self.frames.request(request)
        if self.crossfade is not None and self.crossfade[0].finished:
            # The fade has played out: the new model alone, the old one closed.
            _, make, old = self.crossfade
            self.crossfade = None
            self.frames.set_make(make)
            if old is not self._given:
                old.close()
        return frame

    # -- a new model, a kept moment ----------------------------------------------------------

    def prepare(self, patch: Patch, bundle: ModelBundle) -> LatentState | None:
        """The walk a re-read patch asks for: a new one for a new model (returned, for
        `swap`), else the current walk changed in place (None). Raises what the walk raises
        (LatentConfigError) without changing anything."""
        if bundle is not self.bundle:
            return LatentState(patch.walk, self.latent.seed, bundle.z_dim,
                               options=patch.walk_options, store=bundle.keyframes)
        self.latent.set_kind(patch.walk, patch.walk_options)
        return None

    def swap(self, bundle: ModelBundle, spec: ModelSpec, latent: LatentState, values,
             seconds: float) -> None:
        """Play `bundle`'s model from now on, fading through both models for `seconds` rather
        than cutting; the old model is closed once the fade is over."""
        from liveGAN.latent.blending import Crossfade

        old = self.bundle
        make = FrameMaker(bundle.runtime, bundle.controls)
        if seconds > 0:
            fade = Crossfade(FrameMaker(old.runtime, old.controls), make, seconds)
            self.crossfade = (fade, make, old)
            self.frames.set_make(fade)
        else:
            self.frames.set_make(make)
            if old is not self._given:
                old.close()
        self.bundle, self.spec, self.latent = bundle, spec, latent
        self.exposure.stop(timeout=0)  # never wait on the show's thread
        self.exposure = self._guide(bundle, spec, values)

    def keep(self, values: tuple) -> None:
        """`/livegan/latent/keep <n>`: bookmark this moment's latent (z, W and seed) beside the
        patch, for keyframe walks and style mixing."""
        store = self.bundle.keyframes
        if store is None:
            raise ValueError("this show has no keyframe store (a patch file is needed)")
        number = values[0] if values else None
        if isinstance(number, bool) or not isinstance(number, (int, float)) \
                or number != int(number):
            raise ValueError(f"keep takes a keyframe number, got {number!r}")
        if self.z is None:
            raise ValueError("nothing played yet to keep")
        store.keep(int(number), z=self.z, w=self.bundle.controls.current_ws(),
                   seed=self.latent.seed)
        self.say(f"kept keyframe {int(number)} (seed {self.latent.seed})")

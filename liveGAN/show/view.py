"""The view: the newest generator frame -> textures -> shader chain -> the output framebuffer.

Place in the data flow: frames (generator) -> **view** -> sinks. The view keeps the last two
generator frames as textures (so the chain can blend them while the next one is on its way),
fills the engine's per-frame uniforms, applies the master fade and blackout, and renders the
chain. Only the show's thread calls it; GL objects are made when sizes change, not per frame.
"""
from __future__ import annotations

from typing import Mapping

import moderngl

from liveGAN.render.chain import FrameUniforms, ShaderChain, Stage
from liveGAN.render.upload import TextureUploader

# The engine's audio uniforms and the read-only params an audio input publishes for them.
# `u_onset` is the onset's strength, which jumps up on a hit and decays over 250 ms: a flash
# a shader can show (the 0/1 `audio/onset` pulse is for triggers).
AUDIO_UNIFORMS = {"level": "audio/level", "bass": "audio/low", "mid": "audio/mid",
                  "treble": "audio/high", "onset": "audio/onset_strength"}


def build_chain(ctx, patch, size: tuple[int, int], log) -> ShaderChain:
    """The patch's shader chain on `ctx`, rendering at `size`."""
    stages = [Stage(s.effect, s.name) for s in patch.stages]
    return ShaderChain(ctx, stages, size, search_path=patch.shader_paths,
                       work_size=patch.work_size, log=log)


def same_chain(a, b) -> bool:
    """Whether patches `a` and `b` need the same shader chain (a reload may keep it)."""
    return ([(s.effect, s.name) for s in a.stages] == [(s.effect, s.name) for s in b.stages]
            and a.shader_paths == b.shader_paths and a.work_size == b.work_size)


class View:
    """Textures of the last two generator frames, and the chain that draws them."""

    def __init__(self, ctx, chain: ShaderChain) -> None:
        self.ctx = ctx
        self.chain = chain
        self.uploader = TextureUploader(ctx)
        self.uniforms = FrameUniforms()
        self._textures: list = []
        self._black = None

    @property
    def has_frame(self) -> bool:
        return bool(self._textures)

    def upload(self, pixels) -> None:
        """Make `pixels` (the newest generator frame) the newer of the two textures."""
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

    def render(self, mix: float, values: Mapping[str, float], clock):
        """Draw the frame: the chain over the last two generator frames blended by `mix`,
        faded by `output/fade` and cut to black by `output/blackout` (on this very frame).
        Before the first generator frame the output is black."""
        uniforms = self.uniforms
        uniforms.time, uniforms.frame = clock.time, clock.frame
        uniforms.beat, uniforms.beat_phase = clock.tempo.beat, clock.tempo.beat_phase
        uniforms.bpm = clock.tempo.bpm
        for name, key in AUDIO_UNIFORMS.items():
            setattr(uniforms, name, values.get(key, 0.0))
        blackout = values["output/blackout"] >= 0.5
        uniforms.fade = 0.0 if blackout else values["output/fade"]
        if not self._textures:
            return self._black_frame()
        return self.chain.render((self._textures[0], self._textures[1]), mix, values, uniforms)

    def _black_frame(self):
        size = self.chain.output_size
        if self._black is None or self._black.size != size:
            if self._black is not None:
                self._black.color_attachments[0].release()
                self._black.release()
            self._black = self.ctx.framebuffer(color_attachments=[self.ctx.texture(size, 4)])
        self._black.use()
        self._black.clear(0.0, 0.0, 0.0, 1.0)
        return self._black

    def set_chain(self, chain: ShaderChain) -> None:
        """Swap in a rebuilt chain (a reloaded patch); the old one is released."""
        self.chain.release()
        self.chain = chain

    def release(self) -> None:
        for texture in self._textures:
            texture.release()
        self._textures = []
        if self._black is not None:
            self._black.color_attachments[0].release()
            self._black.release()
            self._black = None
        self.chain.release()

"""The shader chain: generator frames in, one output framebuffer out, once per displayed frame.

Place in the data flow: generator -> image textures -> **chain** -> outputs (window, recorder).
`render` blends the two newest generator frames into a square working buffer, runs each effect
stage (`shaders/*.glsl`, see `shaders.py` for how an effect is written), and finishes with the
`fit` stage, which maps the square picture onto the output size and applies the master fade.

Enlarging: a generator frame smaller than the working buffer is blended at its own size, then
enlarged by the `fit` program itself (stretched, unfaded) with the filter `output/upscale`
picks (bilinear, bicubic, Lanczos); the `fit` stage uses the same filter when the output is
larger than the working buffer when `output/upscale_output` is on (off by default: bilinear
there, since a sharp filter over every output pixel is the costliest pass of a chain on a CPU
renderer, and the first enlargement, of a small model to the working size, matters most).
The fit program is compiled once per filter (see `_Pass`).

Mipmaps: an effect whose source calls `textureLod(u_input, ...)` gets its input with a full
mipmap chain, built just before the stage runs, and a mipmapping sampler, so
`textureLod(u_input, vec2(0.5), 20.0)` is the whole frame's mean colour in one fetch (the
auto-exposure effect reads the picture's brightness this way).

Orientation: generator frames arrive with row 0 = the image's top row (numpy order), which is
upside down in GL terms. The blend pass turns them over, so every stage and the output
framebuffer are in plain GL orientation (v_uv.y = 0 at the bottom). Reading the result back:
`np.flipud(np.frombuffer(fbo.read(), np.uint8).reshape(h, w, 3))` is the picture the right way up.

Watchdog: an edited effect must prove itself before it replaces the last good program. The new
program draws one frame off-screen, first on 1/64 of the area, then (if that does not already
show it too slow) at full size, beside the last good program at the same moment; it is rejected,
with a message naming the file and both costs, when it takes more than `WATCHDOG_FACTOR` times
the last good program and more than `WATCHDOG_MIN_MS` (on a software rasteriser the cost of a
plain effect varies a lot with the machine's load: the factor keeps ordinary edits, the floor
keeps effects that are cheap anyway). A loop that never ends cannot be stopped once drawn:
drivers give no way to cancel a draw.

GL objects (textures, framebuffers, programs, samplers) are made in the constructor and only
remade when a shader reloads, `resize` is called or the generator frame changes size, never
per frame. Only the frame loop's thread, which owns the GL context, may call into a chain.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from liveGAN.params import Param
from liveGAN.render.shaders import (VERTEX_SHADER, Effect, ShaderError, compile_effect,
                                    find_effect, parse_effect, search_path)

FIT_EFFECT = "fit"
FIT_GROUP = "output"
UPSCALE = "upscale"  # the fit effect's filter choice, compiled as one program per filter
UPSCALE_OUTPUT = "upscale_output"  # whether the fit stage's own enlargement uses it too
_UNSET = object()
MAX_WORK_SIDE = 2048
# Half floats keep slow feedback decays from sticking at a dim 8-bit level and allow HDR glow.
WORK_DTYPE = "f2"
# Stage names become OSC address parts (/livegan/<stage>/<param>).
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# The shader watchdog (see the module docstring): an edited program is rejected when a frame of
# it costs more than WATCHDOG_FACTOR x the last good one and more than WATCHDOG_MIN_MS.
WATCHDOG_FACTOR = 10.0
WATCHDOG_MIN_MS = 20.0
# The first trial draw covers 1/PROBE_SCALE of each side, so a program slow enough to stall
# the show costs the trial only 1/PROBE_SCALE² of a frame.
PROBE_SCALE = 8
# An effect that reads a level of detail of its input wants that input mipmapped.
_READS_MIPMAPS = re.compile(r"\btextureLod\s*\(\s*u_input\b")

_BLEND_SHADER = """#version 330 core
uniform sampler2D u_a;
uniform sampler2D u_b;
uniform float u_mix;
in vec2 v_uv;
out vec4 frag_color;
void main() {
    // Turn the picture over: generator row 0 (image top) sits at GL texture row 0 (bottom).
    vec2 q = vec2(v_uv.x, 1.0 - v_uv.y);
    frag_color = vec4(mix(texture(u_a, q).rgb, texture(u_b, q).rgb, u_mix), 1.0);
}
"""


@dataclass
class FrameUniforms:
    """The engine's per-frame values, handed to every stage as `u_*` uniforms."""

    time: float = 0.0
    frame: int = 0
    beat: float = 0.0
    beat_phase: float = 0.0
    bpm: float = 120.0
    fade: float = 1.0
    level: float = 0.0
    bass: float = 0.0
    mid: float = 0.0
    treble: float = 0.0
    onset: float = 0.0


_FRAME_FIELDS = ("time", "frame", "beat", "beat_phase", "bpm", "fade",
                 "level", "bass", "mid", "treble", "onset")


@dataclass(frozen=True)
class Stage:
    """One effect in a chain; `name` is the instance name (param group), default the effect."""

    effect: str
    name: str | None = None

    @property
    def group(self) -> str:
        return self.name or self.effect


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _specialized(effect: Effect, name: str, value: int) -> Effect:
    """`effect` with its int param `name` turned into the constant `value` (same line numbers),
    so the compiler drops the branches other values would take."""
    declaration = re.compile(rf"^(\s*)uniform\s+int\s+{name}\s*;", re.MULTILINE)
    source = declaration.sub(rf"\g<1>const int {name} = {int(value)};", effect.source, count=1)
    return Effect(name=effect.name, path=effect.path, source=source,
                  description=effect.description, params=effect.params)


class _Pass:
    """A compiled effect and what rendering it needs: uniforms looked up once, feedback buffers.

    With `specialize` naming one of its int params, the effect is compiled once per value of
    that param, each with the value as a constant, and `match` picks the program: a software
    renderer (llvmpipe) runs every branch of a shader whatever a uniform says, so switching
    filters with a uniform would cost all of them on every pixel.
    """

    def __init__(self, ctx, effect: Effect, group: str, specialize: str | None = None) -> None:
        self.effect = effect
        self.group = group
        self.specialize = specialize
        self.stamp = _stamp(effect.path)
        spec = next((p for p in effect.params if p.name == specialize and p.kind == "int"), None)
        choices = range(int(spec.min), int(spec.max) + 1) if spec is not None else [None]
        self._programs: dict = {}  # choice -> (program, vao, engine, resolution, input_size, params)
        try:
            for choice in choices:
                source = effect if choice is None else _specialized(effect, specialize, choice)
                program = compile_effect(ctx, source)
                self._programs[choice] = self._lookups(program, ctx.vertex_array(program, []))
        except ShaderError:
            self.release()
            raise
        self.chosen = _UNSET
        self.match(next(iter(self._programs)))
        self.uses_prev = self._live("u_prev")
        self.reads_mipmaps = bool(_READS_MIPMAPS.search(effect.source))
        self.history: list = []  # [(texture, framebuffer)] x 2 when uses_prev
        self.current = 0

    def _lookups(self, program, vao) -> tuple:
        """A program's uniforms, looked up once. Unused uniforms are optimised out by the
        driver, so look each one up and keep the live ones."""
        def live(name: str) -> bool:
            return program.get(name, None) is not None

        engine = [(program[f"u_{name}"], name, int if name == "frame" else float)
                  for name in _FRAME_FIELDS if live(f"u_{name}")]
        params = [(program[s.name], f"{self.group}/{s.name}", s.default, s.kind)
                  for s in self.effect.params if live(s.name)]
        for unit, sampler in ((0, "u_input"), (1, "u_prev")):
            if live(sampler):
                program[sampler].value = unit
        return (program, vao, engine, program.get("u_resolution", None),
                program.get("u_input_size", None), params)

    def match(self, choice) -> None:
        """Use the program compiled for `choice` (e.g. another pass's `chosen`), if there is one
        (no allocation: a chain may switch twice a frame)."""
        if choice != self.chosen and choice in self._programs:
            self.chosen = choice
            (self.program, self.vao, self.engine, self.resolution, self.input_size,
             self.params) = self._programs[choice]

    def _live(self, name: str) -> bool:
        return self.program.get(name, None) is not None

    def value(self, values: Mapping[str, float], name: str) -> float:
        """The current value of this effect's param `name`: from `values`, else its default."""
        for spec in self.effect.params:
            if spec.name == name:
                return values.get(f"{self.group}/{name}", spec.default)
        return 0.0

    def set_value(self, name: str, value: float) -> None:
        """Set uniform `name` on the program, when the driver kept it."""
        uniform = self.program.get(name, None)
        if uniform is not None:
            uniform.value = value

    def declared(self) -> list[Param]:
        return self.effect.declared(self.group)

    def set_uniforms(self, values: Mapping[str, float], frame: FrameUniforms,
                     resolution: tuple[int, int], input_size: tuple[int, int]) -> None:
        for uniform, field, cast in self.engine:
            uniform.value = cast(getattr(frame, field))
        if self.resolution is not None:
            self.resolution.value = resolution
        if self.input_size is not None:
            self.input_size.value = input_size
        for uniform, key, default, kind in self.params:
            value = values.get(key, default)
            uniform.value = float(value) if kind == "float" else int(round(value))

    def release(self) -> None:
        for texture, fbo in getattr(self, "history", []):
            fbo.release()
            texture.release()
        self.history = []
        for program, vao, *_ in self._programs.values():
            vao.release()
            program.release()
        self._programs = {}


class ShaderChain:
    """Generator frames -> effect stages -> `fit` -> output framebuffer, allocation-free per frame.

    Each stage's params are `liveGAN.params.Param`s grouped by the stage's instance name, plus
    `output/fit` (0 fit/letterbox, 1 fill/crop, 2 stretch). Stages that read `u_prev` keep
    their own previous output (feedback); the others share two ping-pong buffers.
    """

    def __init__(self, ctx, stages: list[Stage], output_size: tuple[int, int],
                 search_path: list[Path] | None = None, work_size: int | None = None,
                 log: Callable[[str], None] = print) -> None:
        import moderngl

        self.ctx = ctx
        self.stages = list(stages)
        self.search_path = _search_path(search_path)
        self.log = log
        self._passes: list[_Pass] = []
        self._fit: _Pass | None = None
        self._buffers: list = []
        self._output = None
        self._small = None  # (texture, framebuffer) at the generator frame's size, for enlarging
        self.reloaded: dict[str, str] = {}  # effect name -> source, swapped in by check_reload
        self.output_size = (0, 0)
        self.work_size = 0
        self._check_stage_names()
        self._blend_flag = moderngl.BLEND
        self._linear = ctx.sampler(filter=(moderngl.LINEAR, moderngl.LINEAR),
                                   repeat_x=False, repeat_y=False)
        # Nearest mip level, bilinear within it: level 0 for same-size reads, the 1x1 level for
        # a mean; blending two levels (trilinear) would double a software renderer's work.
        self._mipmapped = ctx.sampler(filter=(moderngl.LINEAR_MIPMAP_NEAREST, moderngl.LINEAR),
                                      repeat_x=False, repeat_y=False)
        self._blend = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=_BLEND_SHADER)
        self._blend["u_a"].value = 0
        self._blend["u_b"].value = 1
        self._mix_uniform = self._blend["u_mix"]
        self._blend_vao = ctx.vertex_array(self._blend, [])
        try:
            for stage in self.stages:
                self._passes.append(self._load(stage.effect, stage.group))
            self._fit = self._load(FIT_EFFECT, FIT_GROUP)
        except ShaderError:
            self.release()
            raise
        self.resize(output_size, work_size)

    # -- construction -------------------------------------------------------------------------

    def _check_stage_names(self) -> None:
        seen: set[str] = set()
        for stage in self.stages:
            if stage.effect == FIT_EFFECT:
                raise ShaderError("the fit effect is always the last stage; "
                                  "leave it out of the chain")
            group = stage.group
            if not _STAGE_NAME.match(group):
                raise ShaderError(f"stage name {group!r}: use letters, digits, _ or -")
            if group == FIT_GROUP:
                raise ShaderError(f"stage name {group!r} is reserved for the output stage")
            if group in seen:
                raise ShaderError(f"two stages are named {group!r}; give each repeated effect "
                                  "its own name")
            seen.add(group)

    def _load(self, effect: str, group: str) -> _Pass:
        return _Pass(self.ctx, parse_effect(find_effect(effect, self.search_path)), group,
                     specialize=UPSCALE if effect == FIT_EFFECT else None)

    def resize(self, output_size: tuple[int, int], work_size: int | None = None) -> None:
        """(Re)make the working, feedback and output buffers for a new output size."""
        width, height = int(output_size[0]), int(output_size[1])
        if width < 1 or height < 1:
            raise ValueError(f"output size must be positive, got {output_size}")
        limit = min(MAX_WORK_SIDE, int(self.ctx.info.get("GL_MAX_TEXTURE_SIZE", MAX_WORK_SIDE)))
        side = int(work_size) if work_size else min(max(width, height), limit)
        self._release_buffers()
        self.output_size = (width, height)
        self.work_size = max(1, side)
        self._buffers = [self._make_buffer() for _ in range(2)]
        for stage_pass in self._passes:
            self._make_history(stage_pass)
        out = self.ctx.texture((width, height), 4)
        self._output = (out, self.ctx.framebuffer(color_attachments=[out]))

    def _make_buffer(self):
        side = self.work_size
        texture = self.ctx.texture((side, side), 4, dtype=WORK_DTYPE)
        fbo = self.ctx.framebuffer(color_attachments=[texture])
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        return texture, fbo

    def _make_history(self, stage_pass: _Pass) -> None:
        if stage_pass.uses_prev and not stage_pass.history:
            stage_pass.history = [self._make_buffer() for _ in range(2)]

    # -- the public API ------------------------------------------------------------------------

    def params(self) -> list[Param]:
        """Every stage's declared params plus `output/fit` and `output/upscale`."""
        declared: list[Param] = []
        for stage_pass in self._passes:
            declared.extend(stage_pass.declared())
        declared.extend(self._fit.declared())
        return declared

    def render(self, frames, mix: float, values: Mapping[str, float],
               uniforms: FrameUniforms):
        """Blend `frames` (a, b) by `mix`, run every stage, and return the output framebuffer.

        `values` maps `group/name` to the current param value; a missing key plays the declared
        default. The returned framebuffer stays bound and is reused every frame: copy or draw it
        before the next call, and bind your own target (`ctx.screen.use()`) to draw elsewhere.
        """
        ctx = self.ctx
        side = self.work_size
        frame_a, frame_b = frames
        input_size = frame_a.size
        ctx.disable(self._blend_flag)

        target = 0
        texture, fbo = self._buffers[target]
        upscale = int(round(self._fit.value(values, UPSCALE)))
        final = upscale if self._fit.value(values, UPSCALE_OUTPUT) >= 0.5 else 0
        enlarge = upscale > 0 and min(input_size) < side
        blend_fbo = self._small_buffer(input_size)[1] if enlarge else fbo
        blend_fbo.use()
        frame_a.use(0)
        frame_b.use(1)
        self._linear.use(0)
        self._linear.use(1)
        self._mix_uniform.value = float(mix)
        self._blend_vao.render(vertices=3)
        if enlarge:
            self._fit.match(upscale)
            self._enlarge(values, uniforms, input_size, fbo)
        source = texture

        for stage_pass in self._passes:
            if stage_pass.history:
                previous = stage_pass.history[stage_pass.current][0]
                stage_pass.current ^= 1
                texture, fbo = stage_pass.history[stage_pass.current]
            else:
                previous = None
                target ^= 1
                texture, fbo = self._buffers[target]
                if texture is source:
                    target ^= 1
                    texture, fbo = self._buffers[target]
            stage_pass.set_uniforms(values, uniforms, (side, side), input_size)
            fbo.use()
            source.use(0)
            if stage_pass.reads_mipmaps:
                source.build_mipmaps()
                self._mipmapped.use(0)
            else:
                self._linear.use(0)
            if previous is not None:
                previous.use(1)
                self._linear.use(1)
            stage_pass.vao.render(vertices=3)
            source = texture

        out_texture, out_fbo = self._output
        out_fbo.use()
        self._fit.match(final)
        self._fit.set_uniforms(values, uniforms, self.output_size, input_size)
        source.use(0)
        self._linear.use(0)
        self._fit.vao.render(vertices=3)
        self._linear.clear(0)
        self._linear.clear(1)
        return out_fbo

    def _small_buffer(self, size: tuple[int, int]):
        """The buffer a small generator frame is blended into before it is enlarged."""
        if self._small is None or self._small[0].size != tuple(size):
            self._release_small()
            texture = self.ctx.texture(tuple(size), 4, dtype=WORK_DTYPE)
            self._small = (texture, self.ctx.framebuffer(color_attachments=[texture]))
        return self._small

    def _enlarge(self, values: Mapping[str, float], uniforms: FrameUniforms,
                 input_size: tuple[int, int], fbo) -> None:
        """The blended small frame -> `fbo` (the working size) through the fit program with
        the patch's upscale filter, stretched (the fit stage restores the aspect) and unfaded."""
        fit = self._fit
        fit.set_uniforms(values, uniforms, (self.work_size, self.work_size), input_size)
        fit.set_value("fit", 2)
        fit.set_value("u_fade", 1.0)
        fbo.use()
        self._small[0].use(0)
        self._linear.use(0)
        fit.vao.render(vertices=3)

    def sources(self) -> dict[str, str]:
        """Effect name -> the GLSL source each stage (and `fit`) is running."""
        return {p.effect.name: p.effect.source for p in [*self._passes, self._fit]}

    def check_reload(self, trial: bool = True) -> bool:
        """Recompile stages whose shader file changed; True when the declared params changed.

        A file that no longer parses or compiles, or (with `trial`) a program too slow for the
        watchdog, leaves the last good program running and is reported once (file:line or the
        costs), until it changes again. `reloaded` says what was swapped in. Call this a few
        times a second at most: it stats every effect file on the search path.
        """
        before = self.params()
        self.reloaded = {}
        for index, stage_pass in enumerate([*self._passes, self._fit]):
            fresh = self._reloaded(stage_pass, trial, is_fit=index == len(self._passes))
            if fresh is None:
                continue
            self.reloaded[fresh.effect.name] = fresh.effect.source
            if index < len(self._passes):
                self._passes[index] = fresh
                self._make_history(fresh)
            else:
                self._fit = fresh
        return self.params() != before

    def _reloaded(self, old: _Pass, trial: bool, is_fit: bool) -> _Pass | None:
        effect_name = old.effect.name
        try:
            path = find_effect(effect_name, self.search_path)
        except ShaderError as exc:
            if old.stamp is not None:
                self.log(f"{exc}; keeping the last good version")
                old.stamp = None
            return None
        stamp = _stamp(path)
        if path == old.effect.path and stamp == old.stamp:
            return None
        old.stamp = stamp
        try:
            fresh = _Pass(self.ctx, parse_effect(path), old.group, old.specialize)
        except ShaderError as exc:
            self.log(f"shader {exc} (keeping the last good version)")
            # Point at the new file so a fix to it is noticed and only this edit is reported.
            old.effect = Effect(name=effect_name, path=path, source=old.effect.source,
                                description=old.effect.description, params=old.effect.params)
            return None
        fresh.stamp = stamp
        fresh.match(old.chosen)  # timed, and first drawn, as the program it replaces
        why = self._too_slow(fresh, old, is_fit) if trial else None
        if why is not None:
            fresh.release()
            self.log(f"shader {path}: {why}; keeping the last good version")
            old.effect = Effect(name=effect_name, path=path, source=old.effect.source,
                                description=old.effect.description, params=old.effect.params)
            return None
        if old.history and fresh.uses_prev:
            # Keep the trail through an edit instead of flashing black.
            fresh.history, fresh.current = old.history, old.current
            old.history = []
        old.release()
        self.log(f"reloaded shader {path}")
        return fresh

    # -- the watchdog ---------------------------------------------------------------------------

    def _too_slow(self, fresh: _Pass, old: _Pass, is_fit: bool) -> str | None:
        """Why `fresh` may not replace `old` (a frame of it costs too much), or None."""
        size = self.output_size if is_fit else (self.work_size, self.work_size)
        probe = (max(1, size[0] // PROBE_SCALE), max(1, size[1] // PROBE_SCALE))
        # A program's first draw includes the driver's compile (llvmpipe compiles lazily):
        # draw each once on a single pixel before timing.
        self._costs(fresh, old, (1, 1), again=False)
        for area, scale in ((probe, PROBE_SCALE * PROBE_SCALE), (size, 1)):
            new_ms, old_ms = self._costs(fresh, old, area)
            # A probe's fixed costs are shared by both programs; scaled up they overstate.
            limit = max(WATCHDOG_FACTOR * old_ms * scale, WATCHDOG_MIN_MS)
            if new_ms * scale > limit:
                return (f"too slow: a frame costs about {new_ms * scale:.0f} ms (the last good "
                        f"version {old_ms * scale:.1f} ms; the limit is {limit:.0f} ms: "
                        f"{WATCHDOG_FACTOR:g}x the last good version, at least "
                        f"{WATCHDOG_MIN_MS:g} ms)")
        return None

    def _costs(self, fresh: _Pass, old: _Pass, size: tuple[int, int], again: bool = True
               ) -> tuple[float, float]:
        """Milliseconds of one off-screen frame of `fresh` and of `old` at `size`. Close calls
        are timed again (the least of three), so one hiccup of a busy machine rejects nothing,
        while a program far over its limit costs a single trial."""
        texture = self.ctx.texture(size, 4, dtype=WORK_DTYPE)
        target = self.ctx.framebuffer(color_attachments=[texture])
        try:
            new_ms, old_ms = self._draw_ms(fresh, target), self._draw_ms(old, target)
            for _ in range(2 if again else 0):
                ratio = new_ms / max(old_ms, 1e-6)
                if not 0.25 * WATCHDOG_FACTOR < ratio < 4 * WATCHDOG_FACTOR:
                    break
                new_ms = min(new_ms, self._draw_ms(fresh, target))
                old_ms = min(old_ms, self._draw_ms(old, target))
            return new_ms, old_ms
        finally:
            target.release()
            texture.release()

    def _draw_ms(self, stage_pass: _Pass, target) -> float:
        source = self._buffers[0][0]
        stage_pass.set_uniforms({}, FrameUniforms(), target.size, source.size)
        target.use()
        source.use(0)
        self._linear.use(0)
        if stage_pass.uses_prev:
            (stage_pass.history[0][0] if stage_pass.history else self._buffers[1][0]).use(1)
            self._linear.use(1)
        self.ctx.finish()
        started = time.perf_counter()
        stage_pass.vao.render(vertices=3)
        self.ctx.finish()
        elapsed = time.perf_counter() - started
        self._linear.clear(0)
        self._linear.clear(1)
        return 1000.0 * elapsed

    def release(self) -> None:
        """Free every GL object the chain made (the frames passed to `render` stay the caller's)."""
        self._release_buffers()
        for stage_pass in self._passes:
            stage_pass.release()
        self._passes = []
        if self._fit is not None:
            self._fit.release()
            self._fit = None
        for name in ("_blend_vao", "_blend", "_linear", "_mipmapped"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.release()
                setattr(self, name, None)

    def _release_small(self) -> None:
        if self._small is not None:
            texture, fbo = self._small
            fbo.release()
            texture.release()
            self._small = None

    def _release_buffers(self) -> None:
        for texture, fbo in self._buffers:
            fbo.release()
            texture.release()
        self._buffers = []
        self._release_small()
        for stage_pass in self._passes:
            for texture, fbo in stage_pass.history:
                fbo.release()
                texture.release()
            stage_pass.history = []
        if self._output is not None:
            texture, fbo = self._output
            fbo.release()
            texture.release()
            self._output = None


def _search_path(folders: list[Path] | None) -> list[Path]:
    return search_path(folders or [])

"""The show window: one pygame OpenGL window that carries every screen output of the show,
windowed or fullscreen, on one display or spanning several (projector arrays, LED walls).

Place in the data flow: the show's view -> **sinks/window** (`WindowSink`, the `window` output).
The show builds its shader chain on the window's GL context, renders into its own framebuffers,
then the window draws the frame once per output and flips once.

Several outputs, one window: pygame holds one GL window per process, and the show renders once.
Every `[[outputs]] kind = "window"` table is one output (`OutputView`) of the same window: the
first one opens it, the others join. Fullscreen with one output covering its display is SDL's
borderless desktop fullscreen. Fullscreen with several outputs (or one on part of a display) is
one borderless window over the bounding box of their displays, each output drawn in the
viewport where its display lies: one render, one swap and one vsync for all the projectors, so
two outputs keep the display rate of one and cost one textured pass each. Windowed, the outputs
sit side by side as a preview.

Each output shows the whole frame or its `region`, letterboxed into its place; a mapped output
(`mapping = true`) adds a corner-pin keystone, soft edges, a mask and a calibration grid
(`liveGAN.render.mapping`, params in `liveGAN.sinks.projection`).

Keys (no modifier): F or F11 fullscreen, H HUD, B blackout, N or Space next seed, K calibration
of the mapped outputs; while calibrating, Tab picks the next corner handle, the arrows move it
one pixel (ten with Shift) and S saves the corners into the patch.
Quitting needs a deliberate chord so no stray key ends a show: Ctrl+Q (Cmd+Q on a Mac), or Esc
pressed twice within one second (held Esc does not repeat). Closing the window also quits.

Fullscreen switches go through `pygame.display.set_mode`, which in pygame 2 keeps the window and
its GL context: every moderngl object made on `ctx` stays valid; only `ctx.screen`'s size
changes, and the window sets its viewports on every `present`.

Orientation: frames follow the project's convention (see render/upload.py): texel row 0 holds the
picture's top row. The window samples them flipped, so they show upright on the bottom-left-origin
screen.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# pygame greets on import; keep a performer's terminal for liveGAN's own messages.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import moderngl  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from liveGAN.render.mapping import Mapping, MappedDraw  # noqa: E402
from liveGAN.sinks.displays import Display, bounding_box, find_display, list_displays  # noqa: E402
from liveGAN.sinks.hud import Hud  # noqa: E402
from liveGAN.sinks.projection import load_mask  # noqa: E402

ESC_TWICE_SECONDS = 1.0
HUD_MARGIN = 8
WHOLE = (0.0, 0.0, 1.0, 1.0)
ARROWS = {pygame.K_LEFT: (-1, 0), pygame.K_RIGHT: (1, 0), pygame.K_UP: (0, -1),
          pygame.K_DOWN: (0, 1)}

# One program draws both the frame (opaque) and the HUD (blended): a quad whose texture
# coordinates are scaled, because the HUD uses only part of its texture.
VERTEX_SHADER = """
#version 330
in vec2 in_position;
uniform vec2 uv_scale;
uniform bool rows_top_first;
out vec2 uv;
void main() {
    vec2 unit = in_position * 0.5 + 0.5;
    if (rows_top_first) unit.y = 1.0 - unit.y;  // texel row 0 is the top of the picture
    uv = unit * uv_scale;
    gl_Position = vec4(in_position, 0.0, 1.0);
}
"""
FRAGMENT_SHADER = """
#version 330
uniform sampler2D image;
uniform bool opaque;
in vec2 uv;
out vec4 colour;
void main() {
    vec4 texel = texture(image, uv);
    colour = opaque ? vec4(texel.rgb, 1.0) : texel;
}
"""


class WindowError(RuntimeError):
    """The window could not be opened; the message says why and what to try."""


def letterbox(frame_size: tuple[int, int], window_size: tuple[int, int]
              ) -> tuple[int, int, int, int]:
    """The viewport (x, y, width, height) that fits `frame_size` into `window_size`, centred,
    keeping its aspect; the bars left over stay black."""
    frame_w, frame_h = frame_size
    window_w, window_h = window_size
    scale = min(window_w / frame_w, window_h / frame_h)
    width = max(1, min(window_w, round(frame_w * scale)))
    height = max(1, min(window_h, round(frame_h * scale)))
    return ((window_w - width) // 2, (window_h - height) // 2, width, height)


@dataclass
class OutputView:
    """One output in the window: where it goes (a display, the `area` of it) and what it
    shows (the `region` of the frame, mapped when `mapped`). Rects are [x, y, w, h] fractions,
    y down. The window fills in `screen` (the display found) and `viewport` (GL pixels)."""

    name: str = "main"
    display: int | str = 0
    area: tuple[float, float, float, float] = WHOLE
    region: tuple[float, float, float, float] = WHOLE
    mapped: bool = False
    mask_path: Path | None = None           # white shows, black hides; scaled to the output
    mapping: Mapping = field(default_factory=Mapping)
    screen: Display | None = None
    viewport: tuple[int, int, int, int] = (0, 0, 1, 1)
    mask_texture: moderngl.Texture | None = None

    def __post_init__(self) -> None:
        self.mapping.region = self.region

    @property
    def plain(self) -> bool:
        """Drawn the quick way: the whole frame, no mapping, no mask."""
        return self.region == WHOLE and not self.mapped and self.mask_path is None

    def desktop_rect(self) -> tuple[int, int, int, int]:
        """Where the output lies on the desktop when fullscreen (x, y, w, h in pixels)."""
        screen = self.screen
        ax, ay, aw, ah = self.area
        x, y = screen.x + round(ax * screen.width), screen.y + round(ay * screen.height)
        return (x, y, max(1, round(aw * screen.width)), max(1, round(ah * screen.height)))


class Window:
    """A pygame OpenGL window that shows frames on one or more outputs and reports key actions.

    `display` picks the screen of the first output (an index or a name, see
    `liveGAN.sinks.displays`); one that does not exist is reported and the first display is
    used. `output` describes that first output (default: the whole frame on `display`);
    `add_output` adds more. The HUD starts visible in a window and hidden in fullscreen (the
    audience sees fullscreen). `log` receives the window's one-line messages.
    """

    def __init__(self, size: tuple[int, int], display: int | str = 0, fullscreen: bool = False,
                 title: str = "liveGAN", vsync: bool = True,
                 log: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic,
                 output: OutputView | None = None) -> None:
        self.log = log
        self._clock = clock
        self.windowed_size = (int(size[0]), int(size[1]))
        self.vsync = vsync
        self.fullscreen = False
        self.hud_visible = not fullscreen
        self.other_keys: list[str] = []  # keys without an action, for keyboard mappings
        self.moves: list[tuple[str, int, int, int]] = []  # calibration: (output, corner, dx, dy)
        self.calibrating = False
        self.selected = (0, 0)           # calibration: (mapped output index, corner)
        self._closed = False
        self._last_escape = -np.inf
        self._layout_dirty = False

        try:
            self.displays = list_displays()
        except pygame.error as error:
            raise WindowError(f"cannot open a window: {error} (no display? run headless, or "
                              "set SDL_VIDEODRIVER=offscreen)") from None
        first = output or OutputView(display=display)
        first.screen = find_display(first.display, self.displays, log)
        self.outputs = [first]
        self.display = first.screen.index
        pygame.display.set_caption(title)

        self._request_core_profile()
        try:
            self._set_mode(fullscreen)
        except pygame.error:
            # Some drivers refuse an explicit core-profile request; take what they give.
            pygame.display.gl_set_attribute(pygame.GL_CONTEXT_PROFILE_MASK, 0)
            pygame.display.gl_set_attribute(pygame.GL_CONTEXT_FLAGS, 0)
            try:
                self._set_mode(fullscreen)
            except pygame.error as error:
                raise WindowError(f"cannot open an OpenGL window: {error}") from None
        try:
            # init_context wraps whatever context is current (EGL, then GLX). Unlike
            # create_context() it also works for a second window in the same process, or after
            # a standalone context was made (both leave moderngl's default context set).
            moderngl.init_context()
            self.ctx = moderngl.get_context()
        except Exception as error:
            pygame.display.quit()
            raise WindowError(f"the window has no usable OpenGL context: {error}") from None
        if self.ctx.version_code < 330:
            version = self.ctx.version_code
            pygame.display.quit()
            raise WindowError(f"the window's OpenGL is {version // 100}.{version % 100 // 10}; "
                              "liveGAN needs 3.3 or newer")

        self._program = self.ctx.program(vertex_shader=VERTEX_SHADER,
                                         fragment_shader=FRAGMENT_SHADER)
        corners = np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype="f4")
        self._quad_buffer = self.ctx.buffer(corners.tobytes())
        self._quad = self.ctx.vertex_array(self._program, [(self._quad_buffer, "2f",
                                                            "in_position")])
        # A sampler object sets filtering for our draw only; the engine's textures keep theirs.
        self._sampler = self.ctx.sampler(filter=(moderngl.LINEAR, moderngl.LINEAR),
                                         repeat_x=False, repeat_y=False)
        self._resolve: moderngl.Framebuffer | None = None  # for frames we cannot sample
        self._mapped: MappedDraw | None = None             # made when an output needs it
        self.hud = Hud(self.ctx)
        self._prepare(first)

    # -- outputs ----------------------------------------------------------------------------

    def add_output(self, view: OutputView) -> None:
        """Show `view` too (placed on the next `present`). Raises WindowError on a name in use."""
        if any(v.name == view.name for v in self.outputs):
            raise WindowError(f"two window outputs are named {view.name!r}; give each its own "
                              "`name`")
        view.screen = find_display(view.display, self.displays, self.log)
        self.outputs.append(view)
        self._prepare(view)
        self._layout_dirty = True

    def remove_output(self, name: str) -> None:
        """Stop showing the output `name` (its sink closed)."""
        for view in [v for v in self.outputs if v.name == name]:
            if view.mask_texture is not None:
                view.mask_texture.release()
            self.outputs.remove(view)
        self._layout_dirty = True

    def _prepare(self, view: OutputView) -> None:
        """GL objects an output needs: its mask texture, the mapped program."""
        if view.mask_path is not None:
            _, _, width, height = view.desktop_rect()
            try:
                mask = load_mask(view.mask_path, (width, height), self.log)
            except ValueError as err:  # the projection goes on, unmasked
                self.log(f"output {view.name}: {err}; showing it without a mask")
                view.mask_path = None
            else:
                view.mask_texture = self.ctx.texture((width, height), 1, mask.tobytes(),
                                                     alignment=1)
                view.mask_texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        if not view.plain and self._mapped is None:
            self._mapped = MappedDraw(self.ctx)

    def mapped_outputs(self) -> list[OutputView]:
        return [v for v in self.outputs if v.mapped]

    # -- opening and fullscreen -----------------------------------------------------------

    @staticmethod
    def _request_core_profile() -> None:
        pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MAJOR_VERSION, 3)
        pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MINOR_VERSION, 3)
        pygame.display.gl_set_attribute(pygame.GL_CONTEXT_PROFILE_MASK,
                                        pygame.GL_CONTEXT_PROFILE_CORE)
        # macOS gives a core context only when it is also forward compatible.
        pygame.display.gl_set_attribute(pygame.GL_CONTEXT_FLAGS,
                                        pygame.GL_CONTEXT_FORWARD_COMPATIBLE_FLAG)

    def _spanning(self, fullscreen: bool) -> bool:
        """Fullscreen as one borderless window over several displays (or part of one)."""
        return fullscreen and (len(self.outputs) > 1 or self.outputs[0].area != WHOLE)

    def _set_mode(self, fullscreen: bool) -> None:
        flags = pygame.OPENGL | pygame.DOUBLEBUF
        position = None
        if self._spanning(fullscreen):
            x, y, width, height = bounding_box([v.desktop_rect() for v in self.outputs])
            flags |= pygame.NOFRAME
            size, position = (width, height), (x, y)
            # Read by SDL when the window is made; moved again below when it already exists.
            os.environ["SDL_VIDEO_WINDOW_POS"] = f"{x},{y}"
        elif fullscreen:
            # Size (0, 0) is the desktop size, which pygame opens borderless, no mode switch.
            flags |= pygame.FULLSCREEN
            size = (0, 0)
        else:
            flags |= pygame.RESIZABLE
            size = self.windowed_size
        try:
            pygame.display.set_mode(size, flags, display=self.display, vsync=int(self.vsync))
        except pygame.error as error:
            if not self.vsync:
                raise
            self.log(f"vsync is not available here ({error}); running without it")
            self.vsync = False
            pygame.display.set_mode(size, flags, display=self.display, vsync=0)
        if not fullscreen and self.size != size:
            # Leaving fullscreen, SDL on X11 can keep the fullscreen size; asking again
            # for the same mode applies the size (the GL context is kept either way).
            pygame.display.set_mode(size, flags, display=self.display, vsync=int(self.vsync))
        if position is not None:
            self._move_to(position, size)
        self.fullscreen = fullscreen
        self._layout_dirty = False

    def _move_to(self, position: tuple[int, int], size: tuple[int, int]) -> None:
        try:
            from pygame._sdl2.video import Window as SDLWindow

            window = SDLWindow.from_display_module()
            window.position = position
            if tuple(window.size) != tuple(size):
                window.size = size
        except Exception as error:  # noqa: BLE001 - an SDL without it: placed by the env var
            self.log(f"could not place the window at {position} ({error})")

    def set_fullscreen(self, fullscreen: bool) -> None:
        """Switch between fullscreen and the window; GL objects on `ctx` stay valid."""
        if fullscreen == self.fullscreen:
            return
        if fullscreen:
            # Remember a size the performer may have dragged the window to.
            self.windowed_size = self.size
        self._set_mode(fullscreen)

    def toggle_fullscreen(self) -> None:
        """Fullscreen if windowed, windowed if fullscreen."""
        self.set_fullscreen(not self.fullscreen)

    @property
    def size(self) -> tuple[int, int]:
        """The window's current size in pixels (the desktop size when fullscreen)."""
        return tuple(pygame.display.get_window_size())

    def _layout(self) -> None:
        """Each output's viewport in the window (GL pixels, origin bottom-left)."""
        width, height = self.size
        if self._spanning(self.fullscreen):
            left, top, _, _ = bounding_box([v.desktop_rect() for v in self.outputs])
            for view in self.outputs:
                x, y, w, h = view.desktop_rect()
                view.viewport = (x - left, height - (y - top) - h, w, h)
            return
        if len(self.outputs) == 1:
            ax, ay, aw, ah = self.outputs[0].area if self.fullscreen else WHOLE
            w, h = max(1, round(aw * width)), max(1, round(ah * height))
            self.outputs[0].viewport = (round(ax * width), height - round(ay * height) - h, w, h)
            return
        count = len(self.outputs)   # windowed: a side-by-side preview
        for i, view in enumerate(self.outputs):
            left = i * width // count
            view.viewport = (left, 0, max(1, (i + 1) * width // count - left), height)

    # -- drawing --------------------------------------------------------------------------

    def present(self, frame: moderngl.Framebuffer | moderngl.Texture | None,
                hud: list[str] | None = None, rows_top_first: bool = True) -> None:
        """Draw `frame` on every output (fitted, black bars where the aspect differs), the HUD
        lines over the first output when the HUD is visible, then flip.

        `frame`'s texel row 0 is the top of the picture (the project's convention: a numpy
        image uploaded as is, and the shader chain's output); pass `rows_top_first=False` for
        a texture drawn the plain-GL way, row 0 at the bottom. `None` shows black (blackout)
        with the HUD still drawn.
        Leaves the screen framebuffer bound and blending disabled.
        """
        if self._layout_dirty and self.fullscreen:
            self._set_mode(True)   # the outputs changed: cover their displays
        self._layout()
        width, height = self.size
        screen = self.ctx.screen
        screen.viewport = (0, 0, width, height)
        # The screen's scissor box stays at its size at creation; a grown window needs it reset.
        screen.scissor = (0, 0, width, height)
        screen.use()
        screen.clear(0.0, 0.0, 0.0, 1.0)
        texture = self._sampleable(frame)
        if texture is not None:
            for index, view in enumerate(self.outputs):
                self._draw_output(view, texture, rows_top_first, index)
        if hud and self.hud_visible:
            self.hud.update(hud)
            self._draw_hud(self.outputs[0].viewport)
        screen.viewport = (0, 0, width, height)
        pygame.display.flip()

    def _draw_output(self, view: OutputView, texture: moderngl.Texture, rows_top_first: bool,
                     index: int) -> None:
        vx, vy, vw, vh = view.viewport
        if view.plain:
            x, y, w, h = letterbox(texture.size, (vw, vh))
            self.ctx.screen.viewport = (vx + x, vy + y, w, h)
            self._draw(texture, (1.0, 1.0), rows_top_first, opaque=True)
            return
        _, _, rw, rh = view.region
        x, y, w, h = letterbox((max(1, round(rw * texture.width)),
                                max(1, round(rh * texture.height))), (vw, vh))
        picture = (x / vw, y / vh, w / vw, h / vh)
        mapped = self.mapped_outputs()
        view.mapping.selected = self.selected[1] if self.calibrating and view in mapped \
            and mapped.index(view) == self.selected[0] else -1
        self._mapped.draw(texture, view.viewport, view.mapping, picture, rows_top_first,
                          view.mask_texture)

    def _sampleable(self, frame: moderngl.Framebuffer | moderngl.Texture | None
                    ) -> moderngl.Texture | None:
        """A texture to sample for `frame`: itself, its colour texture, or a resolved copy
        (for a renderbuffer or a multisampled attachment)."""
        if frame is None:
            return None
        if isinstance(frame, moderngl.Texture) and frame.samples == 0:
            return frame
        if isinstance(frame, moderngl.Texture):
            frame = self.ctx.framebuffer(color_attachments=[frame])
            source_is_temporary = True
        else:
            attachment = frame.color_attachments[0]
            if isinstance(attachment, moderngl.Texture) and attachment.samples == 0:
                return attachment
            source_is_temporary = False
        if self._resolve is None or self._resolve.size != frame.size:
            # Allocated only when the frame size changes, not per frame.
            if self._resolve is not None:
                self._resolve.color_attachments[0].release()
                self._resolve.release()
            self._resolve = self.ctx.framebuffer(
                color_attachments=[self.ctx.texture(frame.size, 4)])
        self.ctx.copy_framebuffer(self._resolve, frame)
        if source_is_temporary:
            frame.release()
        return self._resolve.color_attachments[0]

    def _draw(self, texture: moderngl.Texture, uv_scale: tuple[float, float],
              rows_top_first: bool, opaque: bool) -> None:
        self._program["uv_scale"].value = uv_scale
        self._program["rows_top_first"].value = rows_top_first
        self._program["opaque"].value = opaque
        texture.use(0)
        self._sampler.use(0)
        self._quad.render(moderngl.TRIANGLE_STRIP)
        # Unbind, or the sampler would override the engine's own textures on unit 0.
        self._sampler.clear(0)

    def _draw_hud(self, viewport: tuple[int, int, int, int]) -> None:
        hud = self.hud
        if hud.texture is None or hud.width == 0:
            return
        x, y, _, height = viewport
        self.ctx.screen.viewport = (x + HUD_MARGIN, y + height - HUD_MARGIN - hud.height,
                                    hud.width, hud.height)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        scale = (hud.width / hud.texture.width, hud.height / hud.texture.height)
        self._draw(hud.texture, scale, False, opaque=False)
        self.ctx.disable(moderngl.BLEND)

    # -- input ----------------------------------------------------------------------------

    def poll(self) -> list[str]:
        """Actions since the last poll, in order: 'fullscreen', 'hud', 'blackout',
        'next_seed', 'calibrate', 'save', 'quit'. Fullscreen and HUD are switched here; the
        others are the show's to carry out. Calibration moves are left in `moves`, unbound
        keys in `other_keys` by name."""
        actions: list[str] = []
        self.other_keys = []
        self.moves = []
        for event in pygame.event.get():
            if event.type in (pygame.QUIT, pygame.WINDOWCLOSE):
                if "quit" not in actions:
                    actions.append("quit")
            elif event.type == pygame.KEYDOWN:
                action = self._key_action(event.key, getattr(event, "mod", 0))
                if action == "quit" and "quit" in actions:
                    continue
                if action is not None:
                    actions.append(action)
        return actions

    def _key_action(self, key: int, mod: int) -> str | None:
        command = mod & (pygame.KMOD_CTRL | pygame.KMOD_GUI)
        if key == pygame.K_q and command:
            return "quit"
        if key == pygame.K_ESCAPE:
            now = self._clock()
            if now - self._last_escape <= ESC_TWICE_SECONDS:
                self._last_escape = -np.inf
                return "quit"
            self._last_escape = now
            self.log("press Esc again within 1 s to quit (or Ctrl+Q)")
            return None
        if command or mod & pygame.KMOD_ALT:
            self.other_keys.append(pygame.key.name(key))
            return None
        if self.calibrating and self._calibration_key(key, mod):
            return "save" if key == pygame.K_s else None
        if key in (pygame.K_f, pygame.K_F11):
            self.toggle_fullscreen()
            return "fullscreen"
        if key == pygame.K_h:
            self.hud_visible = not self.hud_visible
            return "hud"
        if key == pygame.K_b:
            return "blackout"
        if key in (pygame.K_n, pygame.K_SPACE):
            return "next_seed"
        if key == pygame.K_k and self.mapped_outputs():
            return "calibrate"
        self.other_keys.append(pygame.key.name(key))
        return None

    def _calibration_key(self, key: int, mod: int) -> bool:
        """Tab, the arrows and S while calibrating; True when `key` was one of them."""
        mapped = self.mapped_outputs()
        if not mapped:
            return False
        output, corner = self.selected
        output = min(output, len(mapped) - 1)
        if key == pygame.K_TAB:
            step = -1 if mod & pygame.KMOD_SHIFT else 1
            flat = (output * 4 + corner + step) % (4 * len(mapped))
            self.selected = divmod(flat, 4)
            return True
        if key in ARROWS:
            step = 10 if mod & pygame.KMOD_SHIFT else 1
            dx, dy = ARROWS[key]
            self.moves.append((mapped[output].name, corner, dx * step, dy * step))
            return True
        return key == pygame.K_s

    # -- closing --------------------------------------------------------------------------

    def close(self) -> None:
        """Release the window's GL objects and close the window. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.hud.release()
        if self._resolve is not None:
            self._resolve.color_attachments[0].release()
            self._resolve.release()
        for view in self.outputs:
            if view.mask_texture is not None:
                view.mask_texture.release()
                view.mask_texture = None
        if self._mapped is not None:
            self._mapped.release()
        for gl_object in (self._quad, self._quad_buffer, self._program, self._sampler):
            gl_object.release()
        pygame.display.quit()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Window":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# The one window of this process: the first window output opens it, the others join it.
_shared: Window | None = None

WINDOW_OPTIONS = ("display", "fullscreen", "vsync", "title", "name", "region", "area",
                  "mapping", "mask")


def _output_name(display: int | str) -> str:
    """The default name (and param group) of an output on `display`: `out0`, `out_hdmi_2`."""
    if isinstance(display, int):
        return f"out{display}"
    return "out_" + (re.sub(r"[^a-z0-9]+", "_", display.lower()).strip("_") or "display")


class WindowSink:
    """Shows the output in a window or fullscreen on a display, whole or a region, mapped.

    Several window outputs (projectors, LED processors) share one window, each on its own
    display or part of one.

    Options: `display` (index or name, default 0), `fullscreen` (default false), `vsync`
    (default true), `title`; `name` (the output's name and param group, default `out<display>`),
    `region` ([x, y, w, h] of the frame to show, fractions, default the whole frame), `area`
    ([x, y, w, h] of the display to fill, default all of it), `mapping` (true: keystone
    corners, soft edges and calibration as live params `<name>/...`), `mask` (an image file:
    white shows, black hides). The first window output's keyboard is a source of its own
    (`liveGAN.sources.keys`); F/F11 (fullscreen) and H (HUD) act on the window itself. Closing
    the window ends the show.
    """

    wants_pixels = False   # it draws the GL texture; no readback needed for it

    def __init__(self, options: dict) -> None:
        from liveGAN.sinks.projection import check_rect
        from liveGAN.sources.keys import KeySource

        options = dict(options)
        unknown = sorted(set(options) - set(WINDOW_OPTIONS))
        if unknown:
            raise WindowError(f"window: unknown option(s) {', '.join(unknown)} "
                              f"(known: {', '.join(WINDOW_OPTIONS)})")
        self.display = options.get("display", 0)
        self.fullscreen = options.get("fullscreen", False)
        self.vsync = options.get("vsync", True)
        self.title = options.get("title", "liveGAN")
        self.mapped = options.get("mapping", False)
        if isinstance(self.display, str):
            if not self.display.strip():
                raise WindowError("window: display must be an index or a display's name")
        elif isinstance(self.display, bool) or not isinstance(self.display, int) \
                or not 0 <= self.display <= 64:
            raise WindowError(f"window: display must be an index 0..64 or a display's name, "
                              f"not {self.display!r}")
        for name in ("fullscreen", "vsync", "mapped"):
            if not isinstance(getattr(self, name), bool):
                option = "mapping" if name == "mapped" else name
                raise WindowError(f"window: {option} must be true or false")
        if not isinstance(self.title, str):
            raise WindowError("window: title must be a string")
        self.name = options.get("name", _output_name(self.display))
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}",
                                                               self.name):
            raise WindowError(f"window: name must be a letter then letters, digits or _ "
                              f"(it names the output's params), not {self.name!r}")
        try:
            self.region = check_rect(options.get("region", list(WHOLE)), "window: region")
            self.area = check_rect(options.get("area", list(WHOLE)), "window: area")
        except ValueError as err:
            raise WindowError(str(err)) from None
        mask = options.get("mask")
        if mask is not None and (not isinstance(mask, str) or not mask):
            raise WindowError("window: mask must be the path of an image file")
        self.mask = Path(mask) if mask else None
        self.keys = KeySource()
        self.calibration = None
        self.window: Window | None = None
        self.view: OutputView | None = None
        self.gl_context = None
        self._link = None
        self._log: Callable[[str], None] = print

    def params(self) -> list:
        """The output's live params: keystone, soft edges, calibration (when `mapping`)."""
        from liveGAN.sinks.projection import mapping_params

        return mapping_params(self.name) if self.mapped else []

    def connect(self, link) -> None:
        self._link = link
        self._log = link.say

    def sources(self) -> list:
        """The keyboard (and its calibration moves) of the window this output opened."""
        return [self.keys, self.calibration] if self.calibration is not None else []

    def open(self, size: tuple[int, int], fps: float) -> None:
        global _shared
        from liveGAN.sinks.projection import CalibrationKeys

        self.view = OutputView(name=self.name, display=self.display, area=self.area,
                               region=self.region, mapped=self.mapped, mask_path=self.mask)
        if _shared is not None and not _shared.closed:
            _shared.add_output(self.view)
            self.window = _shared
            return
        self.window = _shared = Window(size, display=self.display, fullscreen=self.fullscreen,
                                       title=self.title, vsync=self.vsync, log=self._log,
                                       output=self.view)
        self.gl_context = self.window.ctx
        self.calibration = CalibrationKeys()

    @property
    def owner(self) -> bool:
        """This output opened the window: it polls the keys and presents every output."""
        return self.gl_context is not None

    def send(self, frame) -> None:
        window = self.window
        if not self.owner or window is None or window.closed:
            return   # the window's first output draws this one too
        snapshot = self._link.snapshot() if self._link is not None else None
        if snapshot is not None:
            self._follow(window, snapshot.values)
        for action in window.poll():
            if action == "calibrate":
                names = [v.name for v in window.mapped_outputs()]
                self.calibration.calibrate(names, on=not window.calibrating)
            elif action == "save":
                self._save()
            else:
                self.keys.action(action)
        for name in window.other_keys:
            self.keys.key(name)
        if snapshot is not None:
            self._move_corners(window, snapshot.values)
        hud = hud_lines(snapshot) if window.hud_visible and snapshot is not None else None
        # The show's output is in GL orientation (row 0 at the bottom).
        window.present(frame.texture, hud, rows_top_first=False)

    @staticmethod
    def _follow(window: Window, values) -> None:
        """Mapped outputs take the show's latest param values (keys then act on them)."""
        from liveGAN.sinks.projection import read_values

        calibrating = False
        for view in window.mapped_outputs():
            read_values(view.mapping, values, view.name)
            calibrating |= view.mapping.calibrate
        window.calibrating = calibrating

    def _move_corners(self, window: Window, values) -> None:
        """The calibration keys' corner moves become events on the corners' params."""
        from liveGAN.sinks.projection import corner_move

        for name, corner, dx, dy in window.moves:
            view = next(v for v in window.outputs if v.name == name)
            size = (view.viewport[2], view.viewport[3])
            for key, value in corner_move(values, name, corner, dx, dy, size):
                self.calibration.set(key, value)

    def _save(self) -> None:
        from liveGAN.sinks.projection import save_mapping

        snapshot = self._link.snapshot() if self._link is not None else None
        names = [v.name for v in self.window.mapped_outputs()]
        if snapshot is None or not snapshot.patch:
            self._log("calibration not saved: the show's patch is not known yet")
            return
        try:
            save_mapping(Path(snapshot.patch), names, snapshot.values)
        except Exception as err:  # noqa: BLE001 - a read-only patch must not end the show
            self._log(f"calibration not saved to {snapshot.patch}: {type(err).__name__}: {err}")
            return
        self._log(f"calibration of {', '.join(names)} saved to {snapshot.patch}")

    def close(self) -> None:
        global _shared
        window, self.window = self.window, None
        if window is None:
            return
        if self.owner:
            window.close()
            if _shared is window:
                _shared = None
            self.gl_context = None
        elif not window.closed:
            window.remove_output(self.name)


def hud_lines(snapshot) -> list[str]:
    """The HUD's text for one published snapshot of the show."""
    last = snapshot.last_changed or "-"
    value = snapshot.values.get(last)
    shown = f"{last} = {value:.3g}" if value is not None else last
    return [f"{snapshot.fps:5.1f} fps   generator {snapshot.generator_fps:5.1f} fps "
            f"({snapshot.generator_ms:.0f} ms)",
            f"seed {snapshot.seed}   bpm {snapshot.bpm:.1f}", f"last: {shown}"]

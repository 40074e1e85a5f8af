"""The show window: a pygame OpenGL window on any display, windowed or fullscreen.

Place in the data flow: the show's view -> **sinks/window** (`WindowSink`, the `window` output).
The show builds its shader chain on the window's GL context, renders into its own framebuffers,
then the sink calls `present(frame, hud)` once per frame; the window fits the frame into itself
(letterboxed when the aspect differs), blends the HUD text into the top-left corner and flips.
`poll()` turns keyboard and window events into actions, which the window's key source
(`liveGAN.sources.keys`) posts to the show like any other input.

Keys (no modifier): F or F11 fullscreen, H HUD, B blackout, N or Space next seed.
Quitting needs a deliberate chord so no stray key ends a show: Ctrl+Q (Cmd+Q on a Mac), or Esc
pressed twice within one second (held Esc does not repeat). Closing the window also quits.

Fullscreen is borderless at the display's desktop size (no mode switch, which projectors and
capture cards handle badly). Switching goes through `pygame.display.set_mode`, which in pygame 2
keeps the window and its GL context: every moderngl object (textures, programs, framebuffers)
made on `ctx` stays valid, and nothing has to be rebuilt. Only `ctx.screen`'s size changes; the
window sets its viewport on every `present`.

Orientation: frames follow the project's convention (see render/upload.py): texel row 0 holds the
picture's top row. The window samples them flipped, so they show upright on the bottom-left-origin
screen.
"""
from __future__ import annotations

import os
import time
from typing import Callable

# pygame greets on import; keep a performer's terminal for liveGAN's own messages.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import moderngl  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from liveGAN.sinks.hud import Hud

ESC_TWICE_SECONDS = 1.0
HUD_MARGIN = 8

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


def list_displays() -> list[tuple[int, int]]:
    """Desktop size (width, height) of each connected display, in `display=` order."""
    if not pygame.display.get_init():
        pygame.display.init()
    return [tuple(size) for size in pygame.display.get_desktop_sizes()]


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


class Window:
    """A pygame OpenGL window that shows frames and reports key actions.

    `display` picks the screen (see `list_displays`); one that does not exist is reported and
    display 0 is used. The HUD starts visible in a window and hidden in fullscreen (the audience
    sees fullscreen). `log` receives the window's one-line messages.
    """

    def __init__(self, size: tuple[int, int], display: int = 0, fullscreen: bool = False,
                 title: str = "liveGAN", vsync: bool = True,
                 log: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self._clock = clock
        self.windowed_size = (int(size[0]), int(size[1]))
        self.vsync = vsync
        self.fullscreen = False
        self.hud_visible = not fullscreen
        self.other_keys: list[str] = []  # keys without an action, for keyboard mappings
        self._closed = False
        self._last_escape = -np.inf

        try:
            displays = list_displays()
        except pygame.error as error:
            raise WindowError(f"cannot open a window: {error} (no display? run headless, or "
                              "set SDL_VIDEODRIVER=offscreen)") from None
        if not 0 <= display < len(displays):
            listing = ", ".join(f"{i}: {w}x{h}" for i, (w, h) in enumerate(displays))
            log(f"display {display} does not exist (connected: {listing}); using display 0")
            display = 0
        self.display = display
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
        self.hud = Hud(self.ctx)

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

    def _set_mode(self, fullscreen: bool) -> None:
        flags = pygame.OPENGL | pygame.DOUBLEBUF
        if fullscreen:
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
        self.fullscreen = fullscreen

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

    # -- drawing --------------------------------------------------------------------------

    def present(self, frame: moderngl.Framebuffer | moderngl.Texture | None,
                hud: list[str] | None = None, rows_top_first: bool = True) -> None:
        """Draw `frame` fitted to the window (black bars where the aspect differs), the HUD
        lines over it when the HUD is visible, then flip.

        `frame`'s texel row 0 is the top of the picture (the project's convention: a numpy
        image uploaded as is, and the shader chain's output); pass `rows_top_first=False` for
        a texture drawn the plain-GL way, row 0 at the bottom. `None` shows black (blackout)
        with the HUD still drawn.
        Leaves the screen framebuffer bound and blending disabled.
        """
        width, height = self.size
        screen = self.ctx.screen
        screen.viewport = (0, 0, width, height)
        # The screen's scissor box stays at its size at creation; a grown window needs it reset.
        screen.scissor = (0, 0, width, height)
        screen.use()
        screen.clear(0.0, 0.0, 0.0, 1.0)
        texture = self._sampleable(frame)
        if texture is not None:
            screen.viewport = letterbox(texture.size, (width, height))
            self._draw(texture, (1.0, 1.0), rows_top_first, opaque=True)
        if hud and self.hud_visible:
            self.hud.update(hud)
            self._draw_hud(width, height)
        screen.viewport = (0, 0, width, height)
        pygame.display.flip()

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

    def _draw_hud(self, width: int, height: int) -> None:
        hud = self.hud
        if hud.texture is None or hud.width == 0:
            return
        self.ctx.screen.viewport = (HUD_MARGIN, height - HUD_MARGIN - hud.height,
                                    hud.width, hud.height)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        scale = (hud.width / hud.texture.width, hud.height / hud.texture.height)
        self._draw(hud.texture, scale, False, opaque=False)
        self.ctx.disable(moderngl.BLEND)

    # -- input ----------------------------------------------------------------------------

    def poll(self) -> list[str]:
        """Actions since the last poll, in order: 'fullscreen', 'hud', 'blackout',
        'next_seed', 'quit'. Fullscreen and HUD are switched here; blackout and next seed are
        the engine's to carry out. Unbound keys are left in `other_keys` by name."""
        actions: list[str] = []
        self.other_keys = []
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
        self.other_keys.append(pygame.key.name(key))
        return None

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
        for gl_object in (self._quad, self._quad_buffer, self._program, self._sampler):
            gl_object.release()
        pygame.display.quit()

    def __enter__(self) -> "Window":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WindowSink:
    """Shows the output in a window, fullscreen on a chosen display (a projector).

    Options: `display` (index, default 0), `fullscreen` (default false), `vsync` (default
    true), `title`. The window's keyboard is a source of its own (`liveGAN.sources.keys`);
    F/F11 (fullscreen) and H (HUD) act on the window itself. Closing the window ends the show.
    """

    wants_pixels = False   # it draws the GL texture; no readback needed for it

    def __init__(self, options: dict) -> None:
        from liveGAN.sources.keys import KeySource

        options = dict(options)
        self.display = options.pop("display", 0)
        self.fullscreen = options.pop("fullscreen", False)
        self.vsync = options.pop("vsync", True)
        self.title = options.pop("title", "liveGAN")
        if options:
            raise WindowError(f"window: unknown option(s) {', '.join(sorted(options))} "
                              "(known: display, fullscreen, vsync, title)")
        if isinstance(self.display, bool) or not isinstance(self.display, int) \
                or not 0 <= self.display <= 64:
            raise WindowError(f"window: display must be an index 0..64, not {self.display!r}")
        for name in ("fullscreen", "vsync"):
            if not isinstance(getattr(self, name), bool):
                raise WindowError(f"window: {name} must be true or false")
        if not isinstance(self.title, str):
            raise WindowError("window: title must be a string")
        self.keys = KeySource()
        self.window: Window | None = None
        self.gl_context = None
        self._link = None
        self._log: Callable[[str], None] = print

    def connect(self, link) -> None:
        self._link = link
        self._log = link.say

    def sources(self) -> list:
        return [self.keys]

    def open(self, size: tuple[int, int], fps: float) -> None:
        self.window = Window(size, display=self.display, fullscreen=self.fullscreen,
                             title=self.title, vsync=self.vsync, log=self._log)
        self.gl_context = self.window.ctx

    def send(self, frame) -> None:
        window = self.window
        for action in window.poll():
            self.keys.action(action)
        for name in window.other_keys:
            self.keys.key(name)
        hud = hud_lines(self._link.snapshot()) if window.hud_visible and self._link else None
        # The show's output is in GL orientation (row 0 at the bottom).
        window.present(frame.texture, hud, rows_top_first=False)

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None
            self.gl_context = None


def hud_lines(snapshot) -> list[str]:
    """The HUD's text for one published snapshot of the show."""
    last = snapshot.last_changed or "-"
    value = snapshot.values.get(last)
    shown = f"{last} = {value:.3g}" if value is not None else last
    return [f"{snapshot.fps:5.1f} fps   generator {snapshot.generator_fps:5.1f} fps "
            f"({snapshot.generator_ms:.0f} ms)",
            f"seed {snapshot.seed}   bpm {snapshot.bpm:.1f}", f"last: {shown}"]

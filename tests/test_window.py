"""A real pygame OpenGL window (SDL offscreen driver through EGL; Xvfb for fullscreen pixels).

Pixels are read back from the window's own default framebuffer after `present`. GL reads rows
bottom first, so `screen[0]` below is the bottom row of the window.
"""
from __future__ import annotations

import os

# SDL picks its drivers when pygame initialises: set them before pygame is imported.
os.environ["SDL_VIDEODRIVER"] = "offscreen"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import json
import shutil
import subprocess
import sys
import textwrap

import moderngl
import numpy as np
import pygame
import pytest

from liveGAN.sinks.displays import list_displays
from liveGAN.sinks.window import Window, letterbox

RED, GREEN, BLUE, WHITE, GREY = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (128,) * 3
SIZE = (320, 240)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def messages() -> list[str]:
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def window(messages, clock):
    win = Window(SIZE, vsync=False, log=messages.append, clock=clock)
    yield win
    win.close()


def desktop_size(index: int) -> tuple[int, int]:
    display = list_displays()[index]
    return (display.width, display.height)


def screen_pixels(win: Window) -> np.ndarray:
    width, height = win.size
    data = win.ctx.screen.read(viewport=(0, 0, width, height))
    return np.frombuffer(data, np.uint8).reshape(height, width, 3)


def quadrants(width: int, height: int) -> np.ndarray:
    """An image, top row first: red top-left, green top-right, blue bottom-left, white
    bottom-right."""
    image = np.empty((height, width, 3), np.uint8)
    image[:height // 2, :width // 2] = RED
    image[:height // 2, width // 2:] = GREEN
    image[height // 2:, :width // 2] = BLUE
    image[height // 2:, width // 2:] = WHITE
    return image


def gl_texture(ctx: moderngl.Context, image: np.ndarray) -> moderngl.Texture:
    """`image` (top row first) as a texture by the project's convention: texel row 0 holds the
    top row, as render/upload.py leaves it."""
    height, width = image.shape[:2]
    return ctx.texture((width, height), 3, image.tobytes())


def assert_quadrants(screen: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """The quadrant image fills `box` (x, y, w, h in GL window coordinates), right way up."""
    x, y, w, h = box
    bottom, top = y + h // 4, y + 3 * h // 4
    left, right = x + w // 4, x + 3 * w // 4
    assert tuple(screen[top, left]) == RED
    assert tuple(screen[top, right]) == GREEN
    assert tuple(screen[bottom, left]) == BLUE
    assert tuple(screen[bottom, right]) == WHITE


def test_a_texture_fills_the_window_right_way_up(window):
    texture = gl_texture(window.ctx, quadrants(64, 48))
    window.present(texture)
    assert_quadrants(screen_pixels(window), (0, 0, *SIZE))


def test_a_plain_gl_texture_shows_right_way_up_when_said(window):
    image = quadrants(64, 48)[::-1]  # row 0 at the bottom
    texture = window.ctx.texture((64, 48), 3, np.ascontiguousarray(image).tobytes())
    window.present(texture, rows_top_first=False)
    assert_quadrants(screen_pixels(window), (0, 0, *SIZE))


@pytest.mark.parametrize("frame_size, box", [
    ((64, 64), (40, 0, 240, 240)),     # square in 4:3: bars left and right
    ((128, 32), (0, 80, 320, 80)),     # 4:1 in 4:3: bars top and bottom
])
def test_a_different_aspect_is_letterboxed(window, frame_size, box):
    assert letterbox(frame_size, SIZE) == box
    window.present(gl_texture(window.ctx, quadrants(*frame_size)))
    screen = screen_pixels(window)
    assert_quadrants(screen, box)
    x, y, w, h = box
    bars = np.ones(screen.shape[:2], bool)
    bars[y:y + h, x:x + w] = False
    assert screen[bars].max() == 0  # everything outside the picture is black
    assert screen[~bars].max(axis=1).min() > 0  # and no black pixel inside it


def test_framebuffers_are_shown_whatever_their_attachment(window):
    ctx = window.ctx
    source = gl_texture(ctx, quadrants(64, 48))
    with_texture = ctx.framebuffer(color_attachments=[gl_texture(ctx, quadrants(64, 48))])
    with_renderbuffer = ctx.framebuffer(color_attachments=[ctx.renderbuffer((64, 48))])
    multisampled = ctx.framebuffer(color_attachments=[ctx.renderbuffer((64, 48), samples=4)])
    for target in (with_renderbuffer, multisampled):
        ctx.copy_framebuffer(target, ctx.framebuffer(color_attachments=[source]))
    for frame in (with_texture, with_renderbuffer, multisampled):
        window.present(frame)
        assert_quadrants(screen_pixels(window), (0, 0, *SIZE))


def test_a_multisampled_texture_is_resolved(window):
    texture = window.ctx.texture((64, 48), 4, samples=4)
    window.ctx.framebuffer(color_attachments=[texture]).clear(0.0, 1.0, 0.0, 1.0)
    window.present(texture)
    window.present(texture)  # the resolve target is reused
    assert (screen_pixels(window) == GREEN).all()


def test_none_is_black(window):
    window.present(gl_texture(window.ctx, quadrants(64, 48)))
    window.present(None)
    assert screen_pixels(window).max() == 0


def hud_corner(screen: np.ndarray) -> np.ndarray:
    """The top-left 60x30 pixels of the window, where the HUD goes."""
    height = screen.shape[0]
    return screen[height - 38:height - 8, 8:68]


def test_hud_draws_in_its_corner_only_when_visible(window):
    grey = gl_texture(window.ctx, np.full((48, 64, 3), 128, np.uint8))
    lines = ["fps 60.0", "generator 31.2 fps", "last: latent/truncation_psi"]
    assert window.hud_visible  # visible by default in a window
    window.present(grey, lines)
    screen = screen_pixels(window)
    corner = hud_corner(screen)
    assert corner.max() > 200 and corner.min() < 100  # white text on a dark panel
    assert (screen[:40, -40:] == 128).all()  # the opposite corner is untouched

    window.hud_visible = False
    window.present(grey, lines)
    assert (hud_corner(screen_pixels(window)) == 128).all()


def test_hud_uploads_only_when_the_text_changes(window, monkeypatch):
    grey = gl_texture(window.ctx, np.full((48, 64, 3), 128, np.uint8))
    window.present(grey, ["fps 60.0"])
    first = hud_corner(screen_pixels(window)).copy()
    texture = window.hud.texture
    uploads = []
    original_write = type(texture).write
    monkeypatch.setattr(type(texture), "write",
                        lambda self, *a, **k: (uploads.append(1), original_write(self, *a, **k)))
    for _ in range(5):
        window.present(grey, ["fps 60.0"])
    assert uploads == []
    window.present(grey, ["fps 59.5"])
    assert len(uploads) == 1 and window.hud.texture is texture  # same texture reused
    assert (hud_corner(screen_pixels(window)) != first).any()


def post_key(key: int, mod: int = 0) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod,
                                         unicode="", scancode=0))


def test_keys_give_their_actions(window):
    for key in (pygame.K_b, pygame.K_n, pygame.K_SPACE, pygame.K_h, pygame.K_h, pygame.K_x):
        post_key(key)
    assert window.poll() == ["blackout", "next_seed", "next_seed", "hud", "hud"]
    assert window.hud_visible and window.other_keys == ["x"]
    assert window.poll() == []

    post_key(pygame.K_h)
    assert window.poll() == ["hud"] and not window.hud_visible
    post_key(pygame.K_b, pygame.KMOD_LCTRL)  # a modifier makes it some other shortcut
    assert window.poll() == []


def test_quitting_needs_a_chord(window, clock, messages):
    post_key(pygame.K_q)
    post_key(pygame.K_ESCAPE)
    assert window.poll() == []
    assert any("Esc again" in m for m in messages)

    clock.now += 1.5  # a second Esc too late is another first Esc
    post_key(pygame.K_ESCAPE)
    assert window.poll() == []
    clock.now += 0.5
    post_key(pygame.K_ESCAPE)
    assert window.poll() == ["quit"]

    clock.now += 0.2  # the chord is used up: one more Esc is a new first press
    post_key(pygame.K_ESCAPE)
    assert window.poll() == []

    clock.now += 5
    post_key(pygame.K_q, pygame.KMOD_LCTRL)
    assert window.poll() == ["quit"]
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    assert window.poll() == ["quit"]


def test_fullscreen_toggle_keeps_gl_objects(window):
    texture = gl_texture(window.ctx, quadrants(64, 48))
    post_key(pygame.K_f)
    assert window.poll() == ["fullscreen"]
    assert window.fullscreen and window.size == desktop_size(0)
    window.present(texture)  # the texture and the window's own program survive the switch
    post_key(pygame.K_F11)
    assert window.poll() == ["fullscreen"]
    assert not window.fullscreen and window.size == SIZE
    window.present(texture)
    assert_quadrants(screen_pixels(window), (0, 0, *SIZE))
    post_key(pygame.K_f, pygame.KMOD_LCTRL)
    assert window.poll() == [] and not window.fullscreen


def test_a_missing_display_falls_back_to_display_0(messages):
    displays = list_displays()
    assert displays and all(d.width > 0 and d.height > 0 for d in displays)
    win = Window((64, 48), display=len(displays) + 3, vsync=True, log=messages.append)
    try:
        assert win.display == 0
        assert any(f"display {len(displays) + 3} does not exist" in m for m in messages)
    finally:
        win.close()


def test_a_window_opens_after_a_standalone_context(messages):
    standalone = moderngl.create_standalone_context(backend="egl")
    try:
        win = Window(SIZE, vsync=False, log=messages.append)
        try:
            assert win.ctx is not standalone
            win.present(gl_texture(win.ctx, quadrants(64, 48)))
            assert_quadrants(screen_pixels(win), (0, 0, *SIZE))
        finally:
            win.close()
    finally:
        standalone.release()


def test_starts_fullscreen_at_the_desktop_size_with_hud_hidden(messages):
    win = Window((64, 48), fullscreen=True, vsync=False, log=messages.append)
    try:
        assert win.fullscreen and win.size == desktop_size(0) and not win.hud_visible
    finally:
        win.close()


XVFB_CHILD = textwrap.dedent("""
    import json, os
    os.environ["SDL_VIDEODRIVER"] = "x11"
    os.environ["SDL_AUDIODRIVER"] = "dummy"
    import numpy as np
    from liveGAN.sinks.window import Window
    def read(win):
        w, h = win.size
        return np.frombuffer(win.ctx.screen.read(viewport=(0, 0, w, h)), np.uint8).reshape(h, w, 3)
    win = Window((320, 240), vsync=False, log=lambda m: None)
    image = np.zeros((64, 64, 3), np.uint8)
    image[:32] = (255, 0, 0)  # top half red, bottom half blue
    image[32:] = (0, 0, 255)
    texture = win.ctx.texture((64, 64), 3, image.tobytes())
    win.set_fullscreen(True)
    win.present(texture)
    full = read(win)
    rows = np.nonzero(full.max(axis=(1, 2)))[0]
    cols = np.nonzero(full.max(axis=(0, 2)))[0]
    result = {"size": win.size, "picture": [int(cols[0]), int(rows[0]),
                                            int(cols[-1]) + 1, int(rows[-1]) + 1],
              "top": full[rows[-1] - 5, full.shape[1] // 2].tolist(),
              "bottom": full[rows[0] + 5, full.shape[1] // 2].tolist()}
    win.set_fullscreen(False)
    win.present(texture)
    result["windowed_size"] = win.size
    win.close()
    print(json.dumps(result))
""")


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")
def test_fullscreen_fills_the_display_under_xvfb():
    """The offscreen driver keeps its first surface size, so fullscreen pixels are checked on
    an X server."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0",
                               "1280x1024x24", "-nolisten", "tcp"], pass_fds=[write_end],
                              stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            display = pipe.readline().strip()
        assert display, "Xvfb did not start"
        env = dict(os.environ, DISPLAY=f":{display}")
        child = subprocess.run([sys.executable, "-c", XVFB_CHILD], env=env, capture_output=True,
                               text=True, timeout=60)
        assert child.returncode == 0, child.stderr
        result = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result["size"] == [1280, 1024]
    # a square picture centred in 1280x1024: 1024 wide, black bars of 128 either side
    assert result["picture"] == [128, 0, 1152, 1024]
    assert result["top"] == [255, 0, 0] and result["bottom"] == [0, 0, 255]
    assert result["windowed_size"] == [320, 240]

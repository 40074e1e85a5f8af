"""Several screen outputs from one render, on a real X server with two displays side by side
(Xorg's dummy driver; Xvfb shows SDL only one display): `livegan run` in another process puts
the left half of the frame on display 0 and the right half, keystoned and soft-edged, on the
display named DUMMY1. Screenshots of the real windows (`xwd -root`) are compared with what the
picture should be, worked out here from the geometry and the blend formula.

The frame is a known gradient (a patch shader): red grows left to right across the whole frame,
green top to bottom, blue is a constant half, so every pixel says where in the frame it came
from.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import wait_for

FRAME = (128, 48)          # two 64x48 halves: the 4:3 of each 640x480 display
PATTERN = """// @effect a gradient that tells where each pixel is
void main() { frag_color = vec4(v_uv.x, 1.0 - v_uv.y, 0.5, 1.0); }
"""
CORNERS = ((0.1, 0.05), (0.95, 0.0), (0.0, 0.9), (0.9, 1.0))
BLEND_LEFT = 0.2

PATCH = """
[model]
preset = "sg2-tiny"
[output]
size = [{w}, {h}]
fps = 30
fit = "stretch"
window = false
[osc]
port = {port}

[[shaders]]
effect = "pattern"

[[outputs]]
kind = "window"
display = 0
fullscreen = true
region = [0, 0, 0.5, 1]
vsync = false

[[outputs]]
kind = "window"
display = "DUMMY1"
name = "right"
fullscreen = true
region = [0.5, 0, 0.5, 1]
mapping = true
vsync = false

[params.right]
corner_tl_x = {c[0][0]}
corner_tl_y = {c[0][1]}
corner_tr_x = {c[1][0]}
corner_tr_y = {c[1][1]}
corner_bl_x = {c[2][0]}
corner_bl_y = {c[2][1]}
corner_br_x = {c[3][0]}
corner_br_y = {c[3][1]}
blend_left = {blend}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def square_to_quad(corners) -> np.ndarray:
    """Heckbert's closed form of the projective map taking the unit square's (0,0), (1,0),
    (1,1), (0,1) to the quad's tl, tr, br, bl (as a matrix acting on column vectors)."""
    (x0, y0), (x1, y1), (x3, y3), (x2, y2) = corners   # tl, tr, bl, br -> 0, 1, 3, 2
    sx, sy = x0 - x1 + x2 - x3, y0 - y1 + y2 - y3
    dx1, dx2, dy1, dy2 = x1 - x2, x3 - x2, y1 - y2, y3 - y2
    det = dx1 * dy2 - dx2 * dy1
    g = (sx * dy2 - dx2 * sy) / det
    h = (dx1 * sy - sx * dy1) / det
    return np.array([[x1 - x0 + g * x1, x3 - x0 + h * x3, x0],
                     [y1 - y0 + g * y1, y3 - y0 + h * y3, y0],
                     [g, h, 1.0]])


def bourke(x: np.ndarray, gamma: float) -> np.ndarray:
    x = np.clip(x, 0, 1)
    f = np.where(x < 0.5, 0.5 * (2 * x) ** 2, 1 - 0.5 * (2 * (1 - x)) ** 2)
    return f ** (1 / gamma)


def expected_right(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The keystoned, soft-edged right half as display DUMMY1 should show it, and a mask of
    the pixels well inside or well outside the picture (its edges are left out: there a pixel
    is part picture, part black)."""
    ys, xs = np.mgrid[0:height, 0:width]
    p = np.stack([(xs + 0.5) / width, (ys + 0.5) / height, np.ones_like(xs, float)])
    inverse = np.linalg.inv(square_to_quad(CORNERS))
    q = np.tensordot(inverse, p, axes=1)
    s, t = q[0] / q[2], q[1] / q[2]
    inside = (s >= 0) & (s <= 1) & (t >= 0) & (t <= 1)
    margin = 3.0 / width
    sure = ((s > margin) & (s < 1 - margin) & (t > margin) & (t < 1 - margin)) | \
        (s < -margin) | (s > 1 + margin) | (t < -margin) | (t > 1 + margin)
    fade = bourke(s / BLEND_LEFT, 2.2)
    picture = np.stack([0.5 + 0.5 * s, t, np.full_like(s, 0.5)], axis=-1) * fade[..., None]
    image = np.where(inside[..., None], picture, 0.0) * 255
    return image, sure


def expected_left(width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    red = 0.5 * (xs + 0.5) / width
    green = (ys + 0.5) / height
    return np.stack([red, green, np.full_like(red, 0.5)], axis=-1) * 255


@pytest.fixture
def projection_patch(tmp_path):
    (tmp_path / "shaders").mkdir()
    (tmp_path / "shaders" / "pattern.glsl").write_text(PATTERN)
    port = free_port()
    path = tmp_path / "projection.toml"
    path.write_text(PATCH.format(w=FRAME[0], h=FRAME[1], port=port, c=CORNERS,
                                 blend=BLEND_LEFT))
    return path, port


def quit_show(port: int) -> None:
    from pythonosc.udp_client import SimpleUDPClient

    SimpleUDPClient("127.0.0.1", port).send_message("/livegan/quit", [])


def test_two_projectors_show_their_halves_keystoned_and_blended(two_displays,
                                                                projection_patch):
    path, port = projection_patch
    show = subprocess.Popen([sys.executable, "-m", "liveGAN.cli", "run", str(path)],
                            env=two_displays.env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    width, height = two_displays.size
    left_expected = expected_left(width, height)
    shots: list[np.ndarray] = []

    def showing() -> bool:
        shot = two_displays.screenshot().astype(float)
        shots.append(shot)
        # the left display's middle pixel carries the frame's quarter point: red 64, green 128
        return shot.shape[:2] == (height, 2 * width) and \
            np.abs(shot[height // 2, width // 2] - (64, 128, 128)).max() <= 4
    try:
        assert wait_for(showing, timeout=90, interval=0.5), "the outputs never showed"
        time.sleep(0.5)  # a few more frames: the same static picture
        shot = two_displays.screenshot().astype(float)
    finally:
        quit_show(port)
        output, _ = show.communicate(timeout=60)
    assert show.returncode == 0, output

    left, right = shot[:, :width], shot[:, width:]
    # display 0: the left half of the frame, filling the display (same 4:3, no bars). A band
    # half a frame texel wide along the frame's own edges is left out: bilinear filtering
    # holds the edge texel there.
    texel = width // 64
    core = (slice(texel, height - texel), slice(texel, width - texel))
    error = np.abs(left[core] - left_expected[core])
    assert error.max() <= 4, f"left display off by up to {error.max()}"

    image, sure = expected_right(width, height)
    error = np.abs(right - image).max(axis=-1)[sure]
    assert np.median(error) <= 1.5 and np.percentile(error, 99.5) <= 6, \
        f"right display: median error {np.median(error)}, p99.5 {np.percentile(error, 99.5)}"
    # and it really is keystoned: below the bottom edge's left end, black
    assert right[height - 10, 5].max() <= 2 and right[height // 2, width // 2].max() > 50


def test_a_missing_display_says_which_exist_and_uses_the_first(two_displays, tmp_path):
    patch = tmp_path / "missing.toml"
    patch.write_text('[model]\npreset = "sg2-tiny"\n[output]\nsize = [64, 48]\nwindow = false\n'
                     '[osc]\nenabled = false\n[[outputs]]\nkind = "window"\ndisplay = 5\n'
                     'fullscreen = true\nvsync = false\n')
    run = subprocess.run([sys.executable, "-m", "liveGAN.cli", "run", str(patch),
                          "--frames", "5"], env=two_displays.env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    said = run.stdout + run.stderr
    assert 'display 5 does not exist (connected: 0 "DUMMY0" 640x480 at +0+0; ' \
           '1 "DUMMY1" 640x480 at +640+0); using display 0' in said, said
    assert "frames shown 5" in said


def test_the_displays_are_listed_with_names_and_places(two_displays):
    probe = ("from liveGAN.sinks.displays import list_displays\n"
             "print([d.rect + (d.name,) for d in list_displays()])")
    run = subprocess.run([sys.executable, "-c", probe], env=two_displays.env,
                         capture_output=True, text=True, timeout=60)
    assert run.stdout.strip().splitlines()[-1] == \
        "[(0, 0, 640, 480, 'DUMMY0'), (640, 0, 640, 480, 'DUMMY1')]", run.stderr


def test_run_display_takes_a_name(two_displays, tmp_path):
    """`livegan run --display dummy1 --fullscreen`: the window goes to the display of that name
    (any case), the other display stays empty."""
    (tmp_path / "shaders").mkdir()
    (tmp_path / "shaders" / "pattern.glsl").write_text(PATTERN)
    port = free_port()
    patch = tmp_path / "one.toml"
    patch.write_text(f'[model]\npreset = "sg2-tiny"\n[output]\nsize = [64, 48]\nfps = 30\n'
                     f'fit = "stretch"\n[osc]\nport = {port}\n[[shaders]]\neffect = "pattern"\n')
    show = subprocess.Popen([sys.executable, "-m", "liveGAN.cli", "run", str(patch),
                             "--display", "dummy1", "--fullscreen"], env=two_displays.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    width, height = two_displays.size
    shots = []

    def showing() -> bool:
        shot = two_displays.screenshot().astype(float)
        shots.append(shot)
        # the pattern's middle: red 128, green 128, blue 128, on the right display
        return shot.shape[:2] == (height, 2 * width) and \
            np.abs(shot[height // 2, width + width // 2] - 128).max() <= 6
    try:
        assert wait_for(showing, timeout=90, interval=0.5), "the window never showed"
        shot = shots[-1]
    finally:
        quit_show(port)
        output, _ = show.communicate(timeout=60)
    assert show.returncode == 0, output
    assert shot[:, :width].max() <= 2, "display 0 shows something"

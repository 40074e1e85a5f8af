"""Projection mapping in a real pygame OpenGL window (SDL offscreen driver through EGL):
keystone, soft edges, mask, regions and calibration, checked against geometry and formulas
worked out here, not by the code under test; then the params in a running show (OSC and the
calibration keys move a corner, S saves it into the patch).

Pixels are read back from the window's default framebuffer: GL rows bottom first, so the
`top_down` helper flips them to the y-down coordinates a person calibrating uses.
"""
from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "offscreen"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import numpy as np
import pygame
import pytest
from PIL import Image

from conftest import wait_for
from liveGAN.patch import load_patch
from liveGAN.render.mapping import Mapping, homography
from liveGAN.sinks.projection import mapping_params, save_mapping
from liveGAN.sinks.window import OutputView, Window, WindowError, WindowSink

SIZE = (200, 160)
WHITE = (255, 255, 255)


def top_down(win: Window) -> np.ndarray:
    width, height = win.size
    data = win.ctx.screen.read(viewport=(0, 0, width, height))
    return np.frombuffer(data, np.uint8).reshape(height, width, 3)[::-1].astype(int)


def texture(ctx, image: np.ndarray):
    """`image` (top row first) uploaded by the project's convention (texel row 0 = top)."""
    height, width = image.shape[:2]
    return ctx.texture((width, height), 3, np.ascontiguousarray(image).tobytes())


def quadrants(width: int = 64, height: int = 64) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:height // 2, :width // 2] = (255, 0, 0)
    image[:height // 2, width // 2:] = (0, 255, 0)
    image[height // 2:, :width // 2] = (0, 0, 255)
    image[height // 2:, width // 2:] = WHITE
    return image


@pytest.fixture
def messages() -> list[str]:
    return []


def open_window(messages, view: OutputView | None = None) -> Window:
    return Window(SIZE, vsync=False, log=messages.append,
                  output=view or OutputView(name="out0", mapped=True))


@pytest.fixture
def window(messages):
    win = open_window(messages)
    yield win
    win.close()


def test_homography_takes_the_corners_where_asked():
    unit = np.array([(0, 0), (1, 0), (0, 1), (1, 1)], float)
    target = np.array([(0.1, 0.2), (0.9, 0.05), (0.0, 1.0), (0.8, 0.9)])
    h = homography(unit, target)
    for (x, y), (u, v) in zip(unit, target):
        p = h @ (x, y, 1)
        assert p[:2] / p[2] == pytest.approx((u, v), abs=1e-12)
    # a plain scale and shift is affine: its homography has no perspective row
    h = homography(unit, unit * 0.5 + 0.25)
    assert h == pytest.approx(np.array([[0.5, 0, 0.25], [0, 0.5, 0.25], [0, 0, 1]]))
    with pytest.raises(ValueError, match="degenerate"):
        homography(unit, np.array([(0, 0), (0.5, 0), (1, 0), (1, 1)], float))


def test_an_unmapped_mapping_draws_what_the_plain_window_draws(messages):
    image = quadrants(50, 40)
    plain = Window(SIZE, vsync=False, log=messages.append)
    try:
        plain.present(texture(plain.ctx, image))
        expected = top_down(plain)
    finally:
        plain.close()
    win = open_window(messages)
    try:
        win.present(texture(win.ctx, image))
        assert np.abs(top_down(win) - expected).max() <= 1
    finally:
        win.close()


def inside_quad(corners, points: np.ndarray) -> np.ndarray:
    """Which `points` (Nx2, pixels) lie inside the convex quad tl, tr, bl, br, by the side of
    each edge they are on (no homography involved)."""
    tl, tr, bl, br = (np.asarray(c, float) for c in corners)
    inside = np.ones(len(points), bool)
    for a, b in ((tl, tr), (tr, br), (br, bl), (bl, tl)):
        edge, rel = b - a, points - a
        inside &= edge[0] * rel[:, 1] - edge[1] * rel[:, 0] > 0
    return inside


def edge_distance(corners, points: np.ndarray) -> np.ndarray:
    tl, tr, bl, br = (np.asarray(c, float) for c in corners)
    distances = []
    for a, b in ((tl, tr), (tr, br), (br, bl), (bl, tl)):
        edge, rel = b - a, points - a
        distances.append(np.abs(edge[0] * rel[:, 1] - edge[1] * rel[:, 0])
                         / np.linalg.norm(edge))
    return np.min(distances, axis=0)


def test_keystone_puts_the_picture_inside_the_corners(window):
    corners = ((0.15, 0.1), (0.95, 0.2), (0.05, 0.85), (0.8, 0.95))
    window.outputs[0].mapping.corners = corners
    window.present(texture(window.ctx, np.full((40, 50, 3), 255, np.uint8)))
    shot = top_down(window)
    width, height = SIZE
    ys, xs = np.mgrid[0:height, 0:width]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    pixels = [(x * width, y * height) for x, y in corners]
    inside = inside_quad(pixels, centres)
    clear = edge_distance(pixels, centres) > 1.5
    lit = shot.reshape(-1, 3).min(axis=1)
    # the frame's 50x40 is letterboxed into 200x160 exactly (same aspect): no bars
    assert (lit[inside & clear] == 255).all()
    assert (lit[~inside & clear] == 0).all()


def test_keystone_is_perspective_correct(window):
    """The frame's centre lands where the quad's diagonals cross (true of a projective map,
    not of a plain bilinear stretch)."""
    corners = ((0.3, 0.1), (0.7, 0.1), (0.0, 0.9), (1.0, 0.9))   # a keystoned trapezoid
    window.outputs[0].mapping.corners = corners
    window.present(texture(window.ctx, quadrants(64, 48)))
    shot = top_down(window)
    width, height = SIZE
    tl, tr, bl, br = (np.array(c) * (width, height) for c in corners)
    # diagonals tl-br and tr-bl: solve tl + s (br - tl) = tr + t (bl - tr)
    s, _ = np.linalg.solve(np.stack([br - tl, -(bl - tr)], axis=1), tr - tl)
    cx, cy = tl + s * (br - tl)
    bilinear_y = (tl[1] + br[1]) / 2    # where a bilinear stretch would put the centre
    assert abs(cy - bilinear_y) > 8     # the two are told apart at this size
    above, below = shot[int(cy) - 3, int(cx) - 3], shot[int(cy) + 3, int(cx) - 3]
    assert tuple(above) == (255, 0, 0) and tuple(below) == (0, 0, 255)


def bourke(x: np.ndarray, gamma: float) -> np.ndarray:
    """Paul Bourke's blend curve with p = 2, gamma-corrected."""
    x = np.clip(x, 0, 1)
    f = np.where(x < 0.5, 0.5 * (2 * x) ** 2, 1 - 0.5 * (2 * (1 - x)) ** 2)
    return f ** (1 / gamma)


def test_soft_edges_follow_the_blend_curve_and_add_up(window):
    white = texture(window.ctx, np.full((40, 50, 3), 255, np.uint8))
    mapping = window.outputs[0].mapping
    mapping.blend, mapping.gamma = (0.0, 0.3, 0.0, 0.0), (2.2, 2.2, 2.2, 2.2)
    window.present(white)
    right = top_down(window)[80, :, 0] / 255.0
    width = SIZE[0]
    x = (np.arange(width) + 0.5) / width
    expected = bourke((1 - x) / 0.3, 2.2)
    assert np.abs(right - expected).max() < 2.5 / 255
    assert (right[:int(0.7 * width) - 1] == 1).all()

    # the neighbour projector fades in over the same overlap: together, in linear light,
    # they give full brightness all across it
    mapping.blend = (0.3, 0.0, 0.0, 0.0)
    window.present(white)
    left = top_down(window)[80, :, 0] / 255.0
    overlap = slice(int(0.7 * width), width)
    fading_in = left[:width - int(0.7 * width)]   # the same stretch of wall, seen by the other
    assert np.abs(right[overlap] ** 2.2 + fading_in ** 2.2 - 1).max() < 0.03


def test_a_region_shows_its_part_of_the_frame(messages):
    view = OutputView(name="right", region=(0.5, 0.0, 0.5, 1.0))
    win = open_window(messages, view)
    try:
        win.present(texture(win.ctx, quadrants(100, 40)))   # the right half is 50x40: fits
        shot = top_down(win)
        assert tuple(shot[40, 100]) == (0, 255, 0) and tuple(shot[120, 100]) == WHITE
        assert shot[:, :, 2][:75].max() == 0   # no red/blue half of the frame on top
    finally:
        win.close()


def test_a_mask_of_another_size_is_scaled_with_a_note(tmp_path, messages):
    mask = np.zeros((30, 40), np.uint8)
    mask[:, 20:] = 255                            # show only the right half
    path = tmp_path / "mask.png"
    Image.fromarray(mask).save(path)
    view = OutputView(name="masked", mapped=True, mask_path=path)
    win = open_window(messages, view)
    try:
        win.present(texture(win.ctx, np.full((40, 50, 3), 255, np.uint8)))
        shot = top_down(win)
        assert shot[:, :95].max() == 0 and shot[:, 105:].min() == 255
        assert any("mask.png is 40x30" in m and "scaled" in m for m in messages), messages
    finally:
        win.close()


def test_an_unreadable_mask_is_said_and_the_output_shows_unmasked(tmp_path, messages):
    path = tmp_path / "mask.png"
    path.write_text("not an image")
    win = open_window(messages, OutputView(name="out0", mask_path=path))
    try:
        win.present(texture(win.ctx, np.full((40, 50, 3), 255, np.uint8)))
        assert top_down(win).min() == 255
        assert any("cannot read it as an image" in m for m in messages), messages
    finally:
        win.close()


def test_calibration_draws_a_grid_and_the_corner_handles(window):
    black = texture(window.ctx, np.zeros((40, 50, 3), np.uint8))
    window.present(black)
    assert top_down(window).max() == 0
    mapping = window.outputs[0].mapping
    mapping.calibrate = True
    window.calibrating = True
    window.selected = (0, 3)    # the bottom-right handle
    window.present(black)
    shot = top_down(window)
    width, height = SIZE
    grid = shot[height // 2 + 3]                  # a row between grid lines
    columns = np.nonzero(grid.min(axis=1) > 150)[0]
    cells = np.unique(np.round(columns / (width / 8)))
    assert len(cells) >= 7                         # lines every 1/8 across the picture
    # handles: rings of radius 10 px around each corner; the selected one is yellow
    cyan, yellow = np.array((0, 0.9, 1.0)) * 255, np.array((1.0, 0.85, 0.0)) * 255
    assert np.abs(shot[2, 8] - cyan).max() <= 1            # top-left ring
    assert np.abs(shot[height - 3, width - 9] - yellow).max() <= 1


def test_two_outputs_in_one_window_tile_when_windowed(messages):
    win = open_window(messages, OutputView(name="left", region=(0, 0, 0.5, 1)))
    try:
        win.add_output(OutputView(name="right", region=(0.5, 0, 0.5, 1)))
        with pytest.raises(WindowError, match="named 'right'"):
            win.add_output(OutputView(name="right"))
        win.present(texture(win.ctx, quadrants(100, 80)))
        shot = top_down(win)
        # each half of the window shows its half of the frame, letterboxed (50x80 in 100x160)
        assert tuple(shot[40, 50]) == (255, 0, 0) and tuple(shot[40, 150]) == (0, 255, 0)
        assert tuple(shot[120, 50]) == (0, 0, 255) and tuple(shot[120, 150]) == WHITE
    finally:
        win.close()


def test_the_sink_declares_settable_params_only_when_mapped():
    plain = WindowSink({})
    assert plain.params() == [] and plain.name == "out0"
    mapped = WindowSink({"display": 1, "mapping": True})
    params = {p.key: p for p in mapped.params()}
    assert mapped.name == "out1"
    assert {"out1/corner_tl_x", "out1/corner_br_y", "out1/blend_left", "out1/blend_left_gamma",
            "out1/calibrate"} <= set(params)
    assert not any(p.readonly for p in params.values())
    assert params["out1/corner_br_x"].default == 1.0
    assert WindowSink({"display": "HDMI-2", "mapping": True}).name == "out_hdmi_2"
    for bad, message in (({"region": [0.5, 0, 0.6, 1]}, "inside 0..1"),
                         ({"name": "two words"}, "name must be"),
                         ({"mapping": "yes"}, "mapping must be"),
                         ({"keystone": 1}, "unknown option")):
        with pytest.raises(WindowError, match=message):
            WindowSink(bad)


PATCH = """# a projection patch
[model]
preset = "stand-in"
[output]
size = [64, 48]
fps = 30
window = false
[osc]
port = 0

[[outputs]]
kind = "window"
mapping = true
vsync = false
{extra}
"""


def test_patch_check_knows_the_output_params(tmp_path):
    from liveGAN.show.scene import patch_registry

    path = tmp_path / "p.toml"
    path.write_text(PATCH.format(extra="[params.out0]\ncorner_tl_x = 0.1\nblend_right = 0.2\n"))
    registry, problems = patch_registry(load_patch(path), load_model=False)
    assert problems == [] and "out0/corner_tl_x" in registry
    path.write_text(PATCH.format(extra="region = [0, 0, 2, 1]"))
    _, problems = patch_registry(load_patch(path), load_model=False)
    assert any("outputs[0]" in p.key and "region" in str(p) for p in problems), problems


def test_saved_corners_go_into_the_patch_and_back(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PATCH.format(extra=""))
    values = {p.key: p.default for p in mapping_params("out0")}
    values.update({"out0/corner_tl_x": 0.125, "out0/blend_right": 0.2, "out0/calibrate": 1.0})
    save_mapping(path, ["out0"], values)
    text = path.read_text()
    assert text.startswith("# a projection patch")     # comments kept
    patch = load_patch(path)
    assert patch.values["out0/corner_tl_x"] == 0.125 and patch.values["out0/blend_right"] == 0.2
    assert "out0/calibrate" not in patch.values and "out0/corner_br_x" not in patch.values


def test_osc_and_calibration_keys_move_a_corner_in_a_running_show(tmp_path, show_thread):
    from pythonosc.udp_client import SimpleUDPClient

    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show
    from liveGAN.standin import stand_in_bundle

    path = tmp_path / "p.toml"
    path.write_text(PATCH.format(extra=""))
    said: list[str] = []
    engine = Show(path, RunOptions(watch=False), print_fn=said.append,
                  bundle=stand_in_bundle(32))

    def key(k, mod=0):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, unicode="",
                                             scancode=0))

    with show_thread(engine):
        port = engine.source("OscSource").port
        SimpleUDPClient("127.0.0.1", port).send_message("/livegan/out0/corner_tl_x", 0.25)
        assert wait_for(lambda: engine.link.snapshot().values.get("out0/corner_tl_x") == 0.25)

        def shown(key):   # the value the window sees: the show's published snapshot
            return engine.link.snapshot().values.get(key)

        key(pygame.K_k)                              # calibration on
        assert wait_for(lambda: shown("out0/calibrate") == 1.0)
        key(pygame.K_RIGHT, pygame.KMOD_LSHIFT)      # the top-left corner, 10 px right
        width = pygame.display.get_window_size()[0]
        assert wait_for(lambda: shown("out0/corner_tl_x")
                        == pytest.approx(0.25 + 10 / width, abs=1e-9))
        key(pygame.K_TAB)                            # next handle: top-right
        key(pygame.K_DOWN)
        assert wait_for(lambda: shown("out0/corner_tr_y") > 0)
        key(pygame.K_s)                              # save what the window shows
        assert wait_for(lambda: any("saved to" in m for m in said))
        key(pygame.K_k)
        assert wait_for(lambda: engine.values["out0/calibrate"] == 0.0)
    saved = load_patch(path).values
    assert saved["out0/corner_tl_x"] == pytest.approx(0.25 + 10 / width, abs=1e-5)
    assert saved["out0/corner_tr_y"] > 0


@pytest.mark.parametrize("gamma", [1.0, 2.2, 3.0])
def test_the_edge_mesh_follows_the_curve_between_its_vertices(gamma):
    """Soft edges are drawn as a mesh whose factors the rasteriser interpolates: linear between
    break points, that must stay within half a grey level of Bourke's curve everywhere."""
    from liveGAN.render.mapping import blend_mesh

    vertices, indices = blend_mesh((0.25, 0.4, 0.0, 0.1), (gamma, gamma, 2.2, gamma))
    assert indices.max() < len(vertices) and len(indices) % 3 == 0
    for axis, (near, far), (g_near, g_far) in [(0, (0.25, 0.4), (gamma, gamma)),
                                               (1, (0.0, 0.1), (2.2, gamma))]:
        points = np.unique(vertices[:, axis])
        factors = [vertices[vertices[:, axis] == p][0, 2 + axis] for p in points]
        u = np.linspace(0, 1, 20001)
        expected = np.ones_like(u)
        if near:
            expected *= bourke(u / near, g_near)
        expected *= bourke((1 - u) / far, g_far)
        assert np.abs(np.interp(u, points, factors) - expected).max() < 0.5 / 255

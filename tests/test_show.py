"""The show end to end with real parts: EGL, OSC from another process, PyAV recordings,
hot reload of a broken patch and a broken shader while playing.

The generator here is the stand-in (a moving colour field of known cost) so the tests are fast
and show the loop itself; tests/test_cli.py plays the real default model.
"""
from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import wait_for
from liveGAN.show.options import RunOptions
from liveGAN.show.show import Show
from liveGAN.standin import stand_in_bundle

PATCH = """
[model]
preset = "stand-in"
[latent]
speed = 2.0
[output]
size = [96, 64]
fps = 30
[osc]
port = 0
[[shaders]]
effect = "grade"
{extra}
"""


def make_patch(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "patch.toml"
    path.write_text(PATCH.format(extra=extra))
    return path


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def send_from_process(python_exe: str, port: int, code: str) -> None:
    """Run OSC-sending code in another process, as TouchOSC or Max would be."""
    script = textwrap.dedent(f"""
        from pythonosc.udp_client import SimpleUDPClient
        client = SimpleUDPClient("127.0.0.1", {port})
    """) + textwrap.dedent(code)
    subprocess.run([python_exe, "-c", script], check=True, timeout=60)


def test_offline_recording_has_every_frame_and_moves(tmp_path):
    out = tmp_path / "out.mp4"
    engine = Show(make_patch(tmp_path), RunOptions(headless=True, offline=True, frames=24,
                                                     record=out, watch=False),
                    print_fn=lambda m: None, bundle=stand_in_bundle(32))
    summary = engine.run()
    assert summary.frames_shown == 24
    frames = decode(out)
    assert len(frames) == 24
    assert frames[0].shape == (64, 96, 3)
    assert frames[0].mean() > 20  # an image, not black
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 2  # it moves


def test_offline_render_is_deterministic(tmp_path):
    outs = []
    for name in ("a.mkv", "b.mkv"):
        engine = Show(make_patch(tmp_path, '[[shaders]]\neffect = "feedback"'),
                        RunOptions(headless=True, offline=True, frames=12, seed=5,
                                   record=tmp_path / name, watch=False),
                        print_fn=lambda m: None, bundle=stand_in_bundle(32))
        engine.run()
        outs.append(decode(tmp_path / name))
    assert len(outs[0]) == 12
    assert all(np.array_equal(a, b) for a, b in zip(*outs))


def test_osc_from_another_process_drives_params(tmp_path, show_thread, python_exe):
    messages = []
    engine = Show(make_patch(tmp_path, """
[[mappings]]
source = "/1/fader1"
target = "latent/speed"
range = [0.0, 2.0]
"""), RunOptions(headless=True, watch=False), print_fn=messages.append,
                    bundle=stand_in_bundle(32))
    with show_thread(engine):
        port = engine.source("OscSource").port
        send_from_process(python_exe, port, """
            client.send_message("/livegan/output/fade", 0.25)
            client.send_message("/livegan/grade/saturation", 1e9)
            client.send_message("/livegan/latent/seed", 12)
            client.send_message("/1/fader1", 0.5)
            client.send_message("/livegan/latent/next_seed", [])
        """)
        assert wait_for(lambda: engine.values.target["output/fade"] == 0.25)
        saturation = engine.registry["grade/saturation"]
        assert wait_for(lambda: engine.values.target["grade/saturation"] == saturation.max)
        assert wait_for(lambda: engine.values.target["latent/speed"] == pytest.approx(1.0))
        assert wait_for(lambda: engine.values.typed("latent/seed") == 13)
        # A push button's release (0) is not a second press.
        send_from_process(python_exe, port, """
            client.send_message("/livegan/latent/next_seed", 0)
            client.send_message("/livegan/output/fade", 0.75)
        """)
        assert wait_for(lambda: engine.values.target["output/fade"] == 0.75)
        assert engine.values.typed("latent/seed") == 13


def test_garbage_flood_keeps_rendering_and_obeys_after(tmp_path, show_thread, python_exe):
    engine = Show(make_patch(tmp_path), RunOptions(headless=True, watch=False),
                    print_fn=lambda m: None, bundle=stand_in_bundle(32))
    with show_thread(engine) as show:
        port = engine.source("OscSource").port
        before = show.frame()
        flood = subprocess.Popen([python_exe, "-c", textwrap.dedent(f"""
            import os, random, socket, struct
            from pythonosc.osc_message_builder import OscMessageBuilder
            rnd = random.Random(1)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            good = OscMessageBuilder("/livegan/output/fade"); good.add_arg(0.5)
            good = good.build().dgram
            for i in range(30000):
                kind = i % 5
                if kind == 0:
                    data = os.urandom(rnd.randint(1, 200))
                elif kind == 1:
                    data = good[:rnd.randint(1, len(good) - 1)]
                elif kind == 2:
                    data = b"/livegan/output/fade\\0\\0\\0\\0,zq\\0" + os.urandom(8)
                elif kind == 3:
                    m = OscMessageBuilder("/livegan/no/such/%d" % i); m.add_arg(1.0)
                    data = m.build().dgram
                else:
                    m = OscMessageBuilder("/livegan/output/fade"); m.add_arg("loud")
                    data = m.build().dgram
                sock.sendto(data, ("127.0.0.1", {port}))
        """)])
        frames_during = []
        while flood.poll() is None:
            frames_during.append(show.frame())
            time.sleep(0.05)
        assert flood.returncode == 0
        after_flood = show.frame()
        assert after_flood > before  # it kept rendering through the flood
        assert wait_for(lambda: show.frame() > after_flood + 5)
        send_from_process(python_exe, port,
                          'client.send_message("/livegan/output/fade", 0.125)')
        assert wait_for(lambda: engine.values.target["output/fade"] == 0.125)
        stats = engine.source("OscSource").server.stats
    assert stats["rejected"] > 0


def test_broken_patch_edit_keeps_last_good_and_reports(tmp_path, show_thread):
    messages = []
    patch = make_patch(tmp_path)
    engine = Show(patch, RunOptions(headless=True, no_osc=True), print_fn=messages.append,
                    bundle=stand_in_bundle(32))
    with show_thread(engine) as show:
        patch.write_text(patch.read_text().replace('[latent]', '[latent\n'))
        assert wait_for(lambda: any("patch not reloaded" in m for m in messages))
        assert any("(syntax)" in m for m in messages)
        frame = show.frame()
        assert wait_for(lambda: show.frame() > frame + 5)  # still playing
        patch.write_text(PATCH.format(extra="[params]\n\"grade/saturation\" = 0.0\n"
                                            "\"latent/bogus\" = 1\n"))
        assert wait_for(lambda: sum("patch not reloaded" in m for m in messages) >= 2)
        assert any("latent/bogus" in m for m in messages)
        patch.write_text(PATCH.format(extra="[params]\n\"grade/saturation\" = 0.0\n"))
        assert wait_for(lambda: any("patch reloaded" in m for m in messages))
        assert wait_for(lambda: engine.values["grade/saturation"] == 0.0)


def test_broken_shader_edit_keeps_last_good_program(tmp_path, show_thread):
    from liveGAN.resources import shaders_dir

    user = tmp_path / "shaders"
    user.mkdir()
    source = (shaders_dir() / "grade.glsl").read_text()
    (user / "grade.glsl").write_text(source)
    messages = []
    engine = Show(make_patch(tmp_path), RunOptions(headless=True, no_osc=True),
                    print_fn=messages.append, bundle=stand_in_bundle(32))
    with show_thread(engine) as show:
        time.sleep(0.6)
        broken = source + "\nthis is not glsl;\n"
        (user / "grade.glsl").write_text(broken)
        assert wait_for(lambda: any("grade.glsl" in m for m in messages))
        line = len(broken.splitlines())
        assert any(f"grade.glsl:{line}" in m or f"line {line}" in m for m in messages), messages
        frame = show.frame()
        assert wait_for(lambda: show.frame() > frame + 5)


def test_window_output_plays_and_closes(tmp_path):
    pygame = pytest.importorskip("pygame")
    out = tmp_path / "win.mp4"
    engine = Show(make_patch(tmp_path), RunOptions(frames=15, record=out, no_osc=True,
                                                     watch=False),
                    print_fn=lambda m: None, bundle=stand_in_bundle(32))
    summary = engine.run()
    assert summary.frames_shown == 15
    assert not pygame.display.get_init() or pygame.display.get_surface() is None
    assert len(decode(out)) >= 14


@pytest.mark.parametrize("case,values", [
    ("sg3t-tiny", '"model/rotate" = 45.0\n"model/pan_x" = 0.3'),
    ("sg2-cond", '"model/class" = 3'),
    ("sg2-tiny", '"noise/layer_00" = 0.0\n"model/noise" = 0.0'),
])
def test_model_controls_reach_the_generator(tmp_path, case, values):
    """A real StyleGAN (the official-weights fixtures) played through the engine: its live
    controls, set as patch values, change what the generator draws."""
    from conftest import FIXTURES

    model = FIXTURES / "stylegan" / f"{case}.safetensors"
    frames = []
    for name, params in (("plain", ""), ("controlled", f"[params]\n{values}\n")):
        patch = tmp_path / f"{name}.toml"
        patch.write_text(f'[model]\npath = "{model}"\n[latent]\nspeed = 0.0\n'
                         f'[output]\nsize = [32, 32]\n[osc]\nenabled = false\n{params}')
        out = tmp_path / f"{name}.mkv"
        Show(patch, RunOptions(headless=True, offline=True, frames=3, record=out,
                                 watch=False), print_fn=lambda m: None).run()
        frames.append(decode(out)[-1].astype(int))
    assert frames[0].std() > 5
    assert np.abs(frames[0] - frames[1]).mean() > 2


def test_window_keys_drive_the_show(tmp_path, show_thread):
    """A real (offscreen) window: B blacks out the screen, N moves the seed, a lone Q does
    nothing, Ctrl+Q ends the show cleanly."""
    pygame = pytest.importorskip("pygame")
    engine = Show(make_patch(tmp_path), RunOptions(no_osc=True, watch=False),
                    print_fn=lambda m: None, bundle=stand_in_bundle(32))

    def key(k, mod=0):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, unicode="",
                                             scancode=0))

    with show_thread(engine) as show:
        key(pygame.K_b)
        assert wait_for(lambda: engine.values["output/blackout"] == 1.0)
        key(pygame.K_n)
        assert wait_for(lambda: engine.values.typed("latent/seed") == 1)
        key(pygame.K_q)
        frame = show.frame()
        assert wait_for(lambda: show.frame() > frame + 10)  # a stray Q did not quit
        key(pygame.K_q, pygame.KMOD_LCTRL)
        show.thread.join(10)
        assert not show.thread.is_alive()  # the chord ended the show
    assert show.summary is not None and show.summary.frames_shown > 10


def test_closing_the_window_finishes_the_recording(tmp_path, show_thread):
    pygame = pytest.importorskip("pygame")
    out = tmp_path / "closed.mp4"
    engine = Show(make_patch(tmp_path), RunOptions(no_osc=True, watch=False, record=out),
                    print_fn=lambda m: None, bundle=stand_in_bundle(32))
    with show_thread(engine) as show:
        assert wait_for(lambda: show.frame() > 20)
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        show.thread.join(20)
        assert not show.thread.is_alive()
    frames = decode(out)  # the finished file, under its own name
    assert len(frames) >= 15 and frames[-1].shape == (64, 96, 3)

"""A live show recorded while another process plays it over OSC, then rendered again from its
performance log (`livegan render --replay`): the same parameter values at the same frames,
pictures close to the live recording, and two replays identical."""
from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import ShowThread, wait_for
from liveGAN.show.options import RunOptions
from liveGAN.show.performance import LogError, Replay, read_log
from liveGAN.show.show import Show
from liveGAN.standin import stand_in_bundle

PATCH = """
[model]
preset = "stand-in"
[latent]
speed = 1.0
seed = 3
[output]
size = [96, 64]
fps = 30
[osc]
port = 0
[[shaders]]
effect = "grade"
[[shaders]]
effect = "feedback"
[[mappings]]
source = "/1/fader1"
target = "latent/speed"
range = [0.0, 3.0]
smoothing = 0.2
"""

# A performer in another process: faders, a fade, a seed step and a grade move, over a second.
PERFORMER = """
import sys, time
from pythonosc.udp_client import SimpleUDPClient
client = SimpleUDPClient("127.0.0.1", int(sys.argv[1]))
for i in range(20):
    client.send_message("/1/fader1", i / 20)
    client.send_message("/livegan/output/fade", 1.0 - i / 40)
    if i == 8:
        client.send_message("/livegan/latent/next_seed", 1)
    if i == 12:
        client.send_message("/livegan/grade/hue", 0.25)
    time.sleep(0.05)
client.send_message("/livegan/output/fade", 0.6)
"""


class ValueTrace(Show):
    """A show that keeps each frame's parameter values, as the update handed them on."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.trace: dict[int, dict[str, float]] = {}

    def update(self, dt):
        request = super().update(dt)
        self.trace[self.clock.frame] = dict(request.values)
        self.view_sources = self.view.chain.sources()
        return request


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def replay(log: Path, out: Path, **overrides) -> tuple[ValueTrace, Replay]:
    performance = Replay(log, fps=overrides.pop("fps", None))
    try:
        show = ValueTrace(performance.patch(), performance.options(record=out, **overrides),
                          print_fn=lambda m: None, bundle=stand_in_bundle(32))
        show.run()
    finally:
        performance.close()
    return show, performance


@pytest.fixture(scope="module")
def live_show(tmp_path_factory):
    """One live show, played by OSC from another process and recorded (shared by the tests)."""
    from liveGAN.resources import shaders_dir

    folder = tmp_path_factory.mktemp("live")
    (folder / "shaders").mkdir()
    grade = folder / "shaders" / "grade.glsl"
    grade.write_text((shaders_dir() / "grade.glsl").read_text())
    patch = folder / "patch.toml"
    patch.write_text(PATCH)
    messages: list[str] = []
    show = ValueTrace(patch, RunOptions(headless=True, record=folder / "show.mp4"),
                      print_fn=messages.append, bundle=stand_in_bundle(32))
    with ShowThread(show):
        port = show.source("OscSource").port
        subprocess.run([sys.executable, "-c", textwrap.dedent(PERFORMER), str(port)],
                       check=True, timeout=60)
        assert wait_for(lambda: show.values.target["output/fade"] == pytest.approx(0.6))
        # An edit of the patch while playing is part of the performance too.
        patch.write_text(PATCH.replace("seed = 3", "seed = 3\ntruncation = 0.5"))
        assert wait_for(lambda: any("patch reloaded" in m for m in messages))
        # So is an edit of a shader.
        grade.write_text(grade.read_text().replace("frag_color = vec4(c, 1.0);",
                                                   "frag_color = vec4(c.bgr, 1.0);"))
        assert wait_for(lambda: any("reloaded shader" in m for m in messages))
        frame = show.clock.frame
        assert wait_for(lambda: show.clock.frame > frame + 10)
    return folder, show, messages


def test_the_live_show_writes_its_performance_beside_the_recording(live_show):
    folder, show, messages = live_show
    log = folder / "show.livegan.jsonl.gz"
    assert log.is_file() and any(str(log) in m for m in messages)
    performance = read_log(log)
    assert performance.complete
    assert [f.index for f in performance.frames] == list(range(show.frames_shown))
    assert performance.header["text"] == PATCH and performance.header["seed"] == 3
    applied = [address for f in performance.frames for address, _ in f.latest + f.events]
    assert {"/1/fader1", "/livegan/output/fade", "/livegan/latent/next_seed",
            "/livegan/grade/hue"} <= set(applied)
    edits = [e for es in performance.edits.values() for e in es if e["edit"] == "patch"]
    assert len(edits) == 1 and "truncation = 0.5" in edits[0]["text"]
    shaders = [e for es in performance.edits.values() for e in es if e["edit"] == "shaders"]
    assert len(shaders) == 1 and "c.bgr" in shaders[0]["sources"]["grade"]
    assert "c.bgr" not in performance.header["shaders"]["grade"]


def test_a_replay_has_the_live_values_at_every_frame(live_show, tmp_path):
    folder, live, _ = live_show
    replayed, performance = replay(folder / "show.livegan.jsonl.gz", tmp_path / "replay.mp4")
    assert sorted(replayed.trace) == sorted(live.trace)
    # The performer's moves arrived (the values changed), and each frame has the live values.
    assert live.trace[0]["latent/seed"] == 3 and live.trace[max(live.trace)]["latent/seed"] == 4
    assert live.trace[max(live.trace)]["latent/truncation"] == pytest.approx(0.5)
    assert live.trace[max(live.trace)]["grade/hue"] == pytest.approx(0.25)
    differing = [i for i in live.trace if live.trace[i] != replayed.trace[i]]
    assert differing == []
    assert performance.mismatches == 0 and performance.exact
    # The shader edit was replayed too (the replay starts from the logged sources, not from
    # the files on disk, which hold the edit already).
    assert "c.bgr" in replayed.view_sources["grade"]


def test_replays_are_identical_and_close_to_the_live_recording(live_show, tmp_path):
    folder, live, _ = live_show
    log = folder / "show.livegan.jsonl.gz"
    replay(log, tmp_path / "a.mp4")
    replay(log, tmp_path / "b.mp4")
    a, b = decode(tmp_path / "a.mp4"), decode(tmp_path / "b.mp4")
    assert len(a) == len(b) > 30 and all(np.array_equal(x, y) for x, y in zip(a, b))
    # The live recording shows what the generator had finished (a frame or so behind, blended),
    # the replay what was asked for at each frame: close, against how far the picture moves.
    recorded = decode(folder / "show.mp4")
    count = min(len(recorded), len(a))
    assert count >= len(a) - 2
    gap = np.mean([np.abs(recorded[i] - a[i]).mean() for i in range(count)])
    motion = np.mean([np.abs(a[i] - a[i + 10]).mean() for i in range(count - 10)])
    assert gap < 0.5 * motion, (gap, motion)


def test_a_replay_at_another_size_and_rate(live_show, tmp_path):
    folder, live, _ = live_show
    log = folder / "show.livegan.jsonl.gz"
    replayed, performance = replay(log, tmp_path / "big.mp4", size=(160, 96), fps=60)
    frames = decode(tmp_path / "big.mp4")
    assert frames[0].shape == (96, 160, 3)
    # Every frame at 60 fps for the length of the live show, ending on the live values.
    assert len(replayed.trace) == pytest.approx(2 * len(live.trace), abs=3)
    last_live, last = live.trace[max(live.trace)], replayed.trace[max(replayed.trace)]
    assert last["latent/seed"] == last_live["latent/seed"]
    assert last["output/fade"] == pytest.approx(last_live["output/fade"], abs=0.01)
    assert not performance.exact


def test_a_cut_off_or_foreign_log_is_read_or_refused_clearly(live_show, tmp_path):
    folder, live, _ = live_show
    whole = (folder / "show.livegan.jsonl.gz").read_bytes()
    cut = tmp_path / "cut.livegan.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])  # a show killed mid-way
    performance = read_log(cut)
    assert not performance.complete and 0 < len(performance.frames) < live.frames_shown
    for name, data, why in [
            ("notgzip.gz", b"hello", "not"),
            ("foreign.gz", gzip.compress(b'{"format": "other"}\n'), "not a liveGAN"),
            ("badframe.gz", gzip.compress(b'{"format": "livegan-performance", "version": 1, '
                                          b'"patch": "p.toml", "text": "", "fps": 30, '
                                          b'"size": [8, 8], "seed": 0, "shaders": {}}\n'
                                          b'[0, "x"]\n'), "line 2")]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(LogError, match=why):
            read_log(tmp_path / name)


def test_render_replay_on_the_command_line_refuses_a_bad_log(tmp_path, python_exe):
    bad = tmp_path / "bad.livegan.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b not really")
    started = time.monotonic()
    result = subprocess.run([python_exe, "-m", "liveGAN.cli", "render", "--replay", str(bad),
                             "--out", str(tmp_path / "x.mp4")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "cannot replay" in result.stderr
    assert "Traceback" not in result.stderr and time.monotonic() - started < 120
    assert not (tmp_path / "x.mp4").exists()

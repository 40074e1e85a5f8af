"""What a hostile stage throws at a show (issue 9): non-finite and oversized numbers in patches,
huge or deeply nested patch files, unusable paths, a reload thread that meets any exception or
a deleted file, a removed `[params]` line, a blackout, an unwritable recording folder. Each
case: the show (or `livegan check`) says one clear thing and goes on."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import wait_for
from liveGAN.patch import (MAX_PATCH_BYTES, MAX_PIXELS, MAX_SIDE, PatchError, check_params,
                           load_patch, read_patch)
from liveGAN.show.options import RunOptions
from liveGAN.show.show import Show
from liveGAN.standin import stand_in_bundle

HEAD = """
[model]
preset = "stand-in"
[output]
size = [64, 48]
fps = 30
[osc]
enabled = false
"""


def patch_file(tmp_path: Path, body: str, name: str = "patch.toml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body)
    return path


def keys(problems) -> set[str]:
    return {p.key for p in problems}


def registry():
    from liveGAN.show.scene import scene_registry

    return scene_registry(num_ws=4)


# -- numbers that enter from a patch ------------------------------------------------------------

def test_non_finite_numbers_in_a_patch_are_problems_with_their_keys(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(HEAD.replace("fps = 30", "fps = nan") + """
[latent]
speed = inf
[[mappings]]
source = "/1/fader1"
target = "latent/speed"
input = [nan, 1.0]
smoothing = nan
range = [inf, -inf]
[params]
"output/fade" = -inf
""")
    patch, problems = read_patch(path)
    assert {"output.fps", "latent.speed", "mappings[0].input", "mappings[0].smoothing",
            "mappings[0].range"} <= keys(problems)
    assert all("finite" in p.expected for p in problems
               if p.key in ("output.fps", "mappings[0].input", "mappings[0].range"))
    # A value that reaches the registry check non-finite is refused there too, with its key.
    assert 'params."output/fade"' in keys(check_params(patch, registry()))


def test_output_size_is_bounded_before_anything_is_allocated(tmp_path):
    for size, ok in (([100000, 100000], False), ([MAX_SIDE, MAX_SIDE], False),
                     ([MAX_SIDE + 2, 16], False), ([MAX_SIDE, MAX_PIXELS // MAX_SIDE], True),
                     ([0, 100], False)):
        path = tmp_path / "p.toml"
        path.write_text(HEAD.replace("size = [64, 48]", f"size = {size}"))
        patch, problems = read_patch(path)
        assert ("output.size" not in keys(problems)) is ok, (size, problems)
        if not ok:
            assert patch.size == (1280, 720)  # the default stands in, nothing huge is made


def test_the_lower_bound_of_a_numeric_patch_range(tmp_path):
    """A number just under its range's minimum is refused; the minimum itself is not."""
    for fps, ok in ((0.999, False), (1, True), (0, False), (-30, False)):
        path = tmp_path / "p.toml"
        path.write_text(HEAD.replace("fps = 30", f"fps = {fps}"))
        patch, problems = read_patch(path)
        assert ("output.fps" not in keys(problems)) is ok, (fps, problems)
        assert patch.fps == (fps if ok else 60.0)
    # The same for a value checked against the registry: latent/truncation is 0..2.
    reg = registry()
    low = reg["latent/truncation"].min
    for value, ok in ((low - 0.01, False), (low, True)):
        path = tmp_path / "p.toml"
        path.write_text(HEAD + f"[latent]\ntruncation = {value}\n")
        patch, _ = read_patch(path)
        assert ("latent.truncation" not in keys(check_params(patch, reg))) is ok, value


def test_a_patch_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(HEAD + "# padding\n" * (MAX_PATCH_BYTES // 10 + 10))
    patch, problems = read_patch(path)
    assert patch is None and keys(problems) == {"(file)"}
    assert f"at most {MAX_PATCH_BYTES} bytes" in problems[0].expected


@pytest.mark.parametrize("body", [
    "x = " + "[" * 5000 + "]" * 5000,                      # arrays
    "x = " + "{a = " * 5000 + "1" + "}" * 5000,           # inline tables
    "[" + ".".join(["t"] * 3000) + "]\n",                   # dotted tables
])
def test_deeply_nested_toml_is_one_problem_not_a_traceback(tmp_path, body):
    path = tmp_path / "deep.toml"
    path.write_text(HEAD + body)
    patch, problems = read_patch(path)
    assert patch is None and keys(problems) == {"(syntax)"}, problems
    assert "nested" in problems[0].found or "invalid TOML" in problems[0].found


def test_a_patch_error_prints_at_most_fifty_problems(tmp_path):
    path = tmp_path / "unknown.toml"
    path.write_text(HEAD + "".join(f"k{i} = 1\n" for i in range(50_000)))
    with pytest.raises(PatchError) as caught:
        load_patch(path)
    assert len(caught.value.problems) == 50_000
    lines = str(caught.value).splitlines()
    assert len(lines) == PatchError.SHOWN_PROBLEMS + 1
    assert lines[-1] == f"... and {50_000 - PatchError.SHOWN_PROBLEMS} more problems"


@pytest.mark.parametrize("text, why", [("a\\u0000b.pkl", "NUL"), ("x" * 5000, "1024")])
def test_an_unusable_model_path_is_a_problem(tmp_path, text, why):
    path = tmp_path / "p.toml"
    path.write_text(HEAD.replace('preset = "stand-in"', f'path = "{text}"'))
    patch, problems = read_patch(path)
    model = [p for p in problems if p.key == "model.path"]
    assert len(model) == 1 and why in model[0].expected
    assert len(str(model[0])) < 400  # the 5000 characters are not echoed back


# -- the reload thread ---------------------------------------------------------------------------

class Said:
    """The show's two message channels, recorded."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()

    def log(self, kind: str, message: str) -> None:
        with self.lock:
            self.lines.append(message)

    def say(self, message: str) -> None:
        with self.lock:
            self.lines.append(message)

    def count(self, text: str) -> int:
        with self.lock:
            return sum(text in line for line in self.lines)


def test_the_reload_thread_survives_anything_and_keeps_watching(tmp_path, monkeypatch):
    from liveGAN.show import reload as reload_module
    from liveGAN.show.reload import Reloader

    path = patch_file(tmp_path, "[latent]\nspeed = 0.5\n")
    said = Said()
    reloader = Reloader(path, load_patch(path), "cpu", said.log, said.say)
    reloader.POLL_S = 0.02
    real_read = reload_module.read_patch
    failures = iter([RecursionError("maximum recursion depth exceeded"),
                     OSError(36, "File name too long")])

    def flaky_read(p):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_read(p)

    monkeypatch.setattr(reload_module, "read_patch", flaky_read)
    reloader.start()
    try:
        for speed in ("0.6", "0.7"):  # each save meets an exception: one line each
            path.write_text(HEAD + f"[latent]\nspeed = {speed}\n")
            os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**7))
            assert wait_for(lambda: said.count("patch not reloaded") >= (1 if speed == "0.6"
                                                                        else 2), 10)
        assert reloader.take() is None
        assert said.count("RecursionError") == 1 and said.count("File name too long") == 1
        assert all(len(line.splitlines()) == 1 for line in said.lines)  # no traceback
        # A NUL byte in a path is a patch problem, not an exception.
        path.write_text(HEAD.replace('preset = "stand-in"', 'path = "a\\u0000b"'))
        assert wait_for(lambda: said.count("model.path") == 1, 10)
        # The next good save is adopted: the thread is still watching.
        path.write_text(HEAD + "[latent]\nspeed = 0.9\n")
        assert wait_for(lambda: reloader.ready.qsize() > 0, 10)
        patch, bundle = reloader.take()
        assert patch.values["latent/speed"] == 0.9 and bundle is None
        # A deleted patch file is said once, however long it stays away.
        path.unlink()
        assert wait_for(lambda: said.count("is gone") == 1, 10)
        time.sleep(0.2)
        assert said.count("is gone") == 1 and reloader._thread.is_alive()
    finally:
        reloader.stop()


# -- the show ------------------------------------------------------------------------------------

def test_removing_a_params_line_reverts_the_value_to_its_default(tmp_path):
    from liveGAN.show.control import Control

    reg = registry()
    control = Control(lambda kind, message: None)
    with_line = load_patch(patch_file(tmp_path, '[params]\n"latent/speed" = 1.5\n', "a.toml"))
    without = load_patch(patch_file(tmp_path, "", "b.toml"))
    control.adopt(reg, with_line, previous=None)
    assert control.values["latent/speed"] == 1.5
    control.values.set_target("output/fade", 0.3)  # a live move the edit does not touch
    control.adopt(reg, without, previous=with_line)
    assert control.values["latent/speed"] == reg["latent/speed"].default != 1.5
    assert control.values.target["output/fade"] == 0.3


class CutAt(Show):
    """Posts `/livegan/output/blackout 1` before the update of frame `at`."""

    at = 5

    def update(self, dt):
        if self.clock.frame == self.at:
            self.inbox.post("/livegan/output/blackout", 1.0)
        return super().update(dt)


def test_blackout_cuts_to_black_on_the_next_frame(tmp_path):
    out = tmp_path / "cut.mp4"
    show = CutAt(patch_file(tmp_path, ""), RunOptions(headless=True, offline=True, frames=10,
                                                      record=out, watch=False),
                 print_fn=lambda m: None, bundle=stand_in_bundle(32))
    show.run()
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 10
    assert frames[CutAt.at - 1].mean() > 20          # a picture up to the cut
    assert all(f.max() <= 3 for f in frames[CutAt.at:])  # black from that very frame


def test_an_unwritable_recording_says_so_and_the_show_plays(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the recording's folder should be")
    messages: list[str] = []
    show = Show(patch_file(tmp_path, ""), RunOptions(headless=True, offline=True, frames=6,
                                                      record=blocker / "show.mp4", watch=False),
                print_fn=messages.append, bundle=stand_in_bundle(32))
    summary = show.run()
    assert summary.frames_shown == 6
    off = [m for m in messages if "is off" in m]
    assert len(off) == 1 and "show.mp4" in off[0], messages
    assert blocker.read_text().startswith("a file")

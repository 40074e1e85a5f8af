"""Outputs to other programs that can't run on this machine: a virtual camera without the
v4l2loopback kernel module, Syphon (macOS) and Spout (Windows) on Linux. Each says why in one
line and the show goes on (its recording has every frame)."""
from __future__ import annotations

import sys
from pathlib import Path

import av
import pytest

from liveGAN.show.options import RunOptions
from liveGAN.show.show import Show
from liveGAN.sinks.vcam import camera_problem
from liveGAN.standin import stand_in_bundle

PATCH = """
[model]
preset = "stand-in"
[output]
size = [64, 48]
window = false
[osc]
enabled = false
[[outputs]]
kind = "vcam"
[[outputs]]
kind = "syphon"
[[outputs]]
kind = "spout"
[[outputs]]
kind = "record"
path = "show.mkv"
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux half of the story")
def test_outputs_that_cannot_run_here_say_why_in_one_line_each(tmp_path):
    if camera_problem() is None:
        pytest.skip("a v4l2loopback camera is available here")
    (tmp_path / "patch.toml").write_text(PATCH)
    said: list[str] = []
    summary = Show(tmp_path / "patch.toml", RunOptions(headless=True, frames=10, watch=False),
                   print_fn=said.append, bundle=stand_in_bundle(32)).run()
    off = [line for line in said if " is off: " in line]
    assert len(off) == 3, said
    assert off[0].startswith("output outputs[0] (vcam) is off: no virtual camera: ")
    assert "v4l2loopback" in off[0] or "pyvirtualcam is not installed" in off[0]
    assert off[1] == "output outputs[1] (syphon) is off: syphon runs on macOS only"
    assert off[2] == "output outputs[2] (spout) is off: SpoutGL runs on Windows only"
    assert summary.frames_shown == 10
    with av.open(str(Path(tmp_path) / "show.mkv")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10

"""Scenes: save and recall every parameter, morphs in beats, the cue list, keys 1-9, the file
beside the patch, quantised recall; in a running show driven over OSC."""
from __future__ import annotations

import time
import tomllib

import pytest

from conftest import wait_for
from liveGAN.params import Param, ParamValues, Registry
from liveGAN.patch import CueSpec
from liveGAN.show.scenes import Scenes, scenes_path
from test_osc_answers import Client, build

PARAMS = [
    Param("output", "fade", "float", 1.0, 0.0, 1.0, 0.25),
    Param("latent", "seed", "int", 0, 0, 1000),
    Param("output", "blackout", "bool", 0, 0, 1),
    Param("latent", "next_seed", "trigger"),
    Param("clock", "bpm", "float", 120, 20, 300),
    Param("audio", "level", "float", 0, 0, 1, readonly=True),
]


def make(tmp_path):
    lines = []
    scenes = Scenes(lines.append, lambda kind, message: lines.append(message))
    scenes.adopt(tmp_path / "show.toml", [])
    return scenes, ParamValues(Registry(PARAMS)), lines


def test_save_writes_every_settable_value_beside_the_patch(tmp_path):
    scenes, values, lines = make(tmp_path)
    values.set_now("output/fade", 0.4)
    values.set_now("latent/seed", 17)
    values.set_now("clock/bpm", 90)
    scenes.save(3, values)
    path = tmp_path / "show.scenes.toml"
    assert scenes_path(tmp_path / "show.toml") == path
    assert wait_for(path.exists)
    stored = tomllib.loads(path.read_text())["scenes"]["3"]
    assert stored == {"output/fade": 0.4, "latent/seed": 17.0, "output/blackout": 0.0}
    fresh, _, _ = make(tmp_path)                              # read back by a new show
    assert fresh.stored[3] == stored
    assert not list(tmp_path.glob(".show.scenes.toml.*"))     # no temporary file left


def test_recall_at_once_and_an_empty_scene_says_which_exist(tmp_path):
    scenes, values, _ = make(tmp_path)
    values.set_now("output/fade", 0.2)
    scenes.save(1, values)
    values.set_now("output/fade", 0.9)
    scenes.recall(1, 0, 0.0, values)
    assert values.target["output/fade"] == 0.2
    with pytest.raises(ValueError, match=r"scene 5 is empty \(saved: 1"):
        scenes.recall(5, 0, 0.0, values)
    for bad in (0, 129, 1.5, "x", True):
        with pytest.raises(ValueError):
            scenes.save(bad, values)


def test_morph_glides_floats_and_switches_ints_half_way(tmp_path):
    scenes, values, _ = make(tmp_path)
    values.set_now("output/fade", 0.0)
    values.set_now("latent/seed", 10)
    scenes.save(2, values)
    values.set_now("output/fade", 1.0)
    values.set_now("latent/seed", 20)
    scenes.recall(2, 4.0, 8.0, values)                      # 4 beats from beat 8
    scenes.step(9.0, values)
    assert values.current["output/fade"] == pytest.approx(0.75)
    assert values.typed("latent/seed") == 20
    scenes.step(10.0, values)
    assert values.current["output/fade"] == pytest.approx(0.5)
    assert values.typed("latent/seed") == 10
    values.set_target("output/blackout", 1.0)               # the performer takes one over...
    scenes.step(11.0, values)
    assert values.target["output/blackout"] == 1.0          # ... and keeps it
    scenes.step(12.5, values)
    assert values.current["output/fade"] == 0.0 and not scenes.morphing


def test_cues_step_round(tmp_path):
    scenes, _, _ = make(tmp_path)
    scenes.adopt(tmp_path / "show.toml", [CueSpec(2, 4.0), CueSpec(1, 0.0)])
    assert [scenes.next_cue() for _ in range(3)] == [(2, 4.0), (1, 0.0), (2, 4.0)]
    assert scenes.next_cue(-1) == (1, 0.0)


PATCH = """
[model]
preset = "stand-in"
[output]
size = [64, 48]
fps = 30
[osc]
port = 0
[clock]
bpm = 240
[[shaders]]
effect = "grade"
[[cues]]
scene = 2
[[cues]]
scene = 1
morph = 2
"""


@pytest.fixture
def show(playing):
    with playing(PATCH) as engine:
        yield engine


def test_scenes_over_osc_keys_and_cues(show, tmp_path):
    client = Client(show.source("OscSource").port)
    target = show.values.target
    client.send(build("/livegan/grade/saturation", 0.5))
    assert wait_for(lambda: target["grade/saturation"] == 0.5)
    client.send(build("/livegan/scene/save", 1))
    assert wait_for(lambda: any("scene 1 saved" in l for l in show.lines))
    client.send(build("/livegan/grade/saturation", 1.5))
    client.send(build("/livegan/latent/seed", 44))
    assert wait_for(lambda: target["grade/saturation"] == 1.5)
    client.send(build("/livegan/scene/save", 2))
    assert wait_for(lambda: any("scene 2 saved" in l for l in show.lines))
    client.send(build("/livegan/scene/recall", 1))
    assert wait_for(lambda: target["grade/saturation"] == 0.5)
    assert wait_for(lambda: show.values.typed("latent/seed") == 0)
    show.inbox.post("/key/2", 1.0)                          # the window's key 2
    assert wait_for(lambda: target["grade/saturation"] == 1.5)
    client.send(build("/livegan/scene/next"))               # cue 1: scene 2 (already there)
    client.send(build("/livegan/scene/next"))               # cue 2: scene 1 over 2 beats
    seen = []
    assert wait_for(lambda: seen.append(show.values.current["grade/saturation"])
                    or seen[-1] == 0.5)
    assert any(0.5 < v < 1.5 for v in seen)                # it glided through the middle
    client.send(build("/livegan/scene/recall", 9))
    assert wait_for(lambda: any("scene 9 is empty" in l for l in show.lines))
    assert (tmp_path / "patch.scenes.toml").exists()


def test_quantised_recall_waits_for_the_bar(show):
    client = Client(show.source("OscSource").port)
    client.send(build("/livegan/scene/save", 1))
    assert wait_for(lambda: any("scene 1 saved" in l for l in show.lines))
    client.send(build("/livegan/grade/saturation", 1.5))
    client.send(build("/livegan/clock/quantize", 2))       # bars of 4 beats: 1 s at 240 BPM
    # Settled: the snapshot's (gliding) value has arrived.
    assert wait_for(lambda: show.link.snapshot().values["grade/saturation"] == 1.5)
    assert wait_for(lambda: show.values.typed("clock/quantize") == 2)
    # Ask just after a bar started, so the recall must wait most of a bar.
    assert wait_for(lambda: 0.3 < show.clock.tempo.beat % 4 < 1.0, 10, 0.002)
    client.send(build("/livegan/scene/recall", 1))
    asked = show.clock.tempo.beat
    time.sleep(0.3)
    assert show.values.target["grade/saturation"] == 1.5     # still waiting
    landed = []
    assert wait_for(lambda: show.link.snapshot().values["grade/saturation"] < 1.49
                    and landed.append(show.link.snapshot().beat) is None, 10, 0.002)
    beat = landed[0]
    assert beat >= (asked // 4 + 1) * 4 - 1e-6              # not before the next bar
    assert beat % 4 < 1.0                                   # on it (within a beat, loaded CI)

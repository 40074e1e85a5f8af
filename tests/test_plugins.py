"""Plugins: a separate package adds an input and an output with no change to liveGAN.

`tests/plugin_example/` is its own distribution; the test installs it with pip into a folder of
its own, and plays a patch that uses its source and sink in a `livegan` subprocess.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from liveGAN.plugins import SINK_GROUP, SOURCE_GROUP, PluginError, create, names
from liveGAN.resources import patches_dir

EXAMPLE = Path(__file__).resolve().parent / "plugin_example"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The example package installed by pip into its own folder; the environment that sees it."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(site), str(EXAMPLE)],
                   check=True, capture_output=True, timeout=300)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(site)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    return env


def test_the_built_ins_are_entry_points_like_any_other():
    assert "osc" in names(SOURCE_GROUP)
    assert {"window", "record"} <= set(names(SINK_GROUP))
    with pytest.raises(PluginError, match="no input kind 'nope' is installed.*osc"):
        create(SOURCE_GROUP, "nope", {})
    with pytest.raises(PluginError, match="osc.*port"):
        create(SOURCE_GROUP, "osc", {"port": "loud"})


def test_livegan_plugins_lists_what_is_installed(installed):
    result = subprocess.run([sys.executable, "-m", "liveGAN.cli", "plugins"], env=installed,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "example-step" in out and "example-probe" in out and "livegan-example-plugins" in out
    assert "osc" in out and "record" in out and "window" in out


def test_a_third_party_source_and_sink_play_in_a_show(tmp_path, installed):
    probe = tmp_path / "probe.json"
    model = patches_dir() / "models" / "default.safetensors"
    patch = tmp_path / "plugins.toml"
    patch.write_text(f"""
[model]
path = "{model}"
[output]
size = [64, 48]
fps = 30
[osc]
enabled = false
[params]
"output/fade" = 0.0

[[inputs]]
kind = "example-step"
after = 30

[[outputs]]
kind = "example-probe"
path = "{probe}"

# A value a plugin publishes drives a parameter like any other source.
[[mappings]]
source = "step/level"
target = "output/fade"
""")
    result = subprocess.run([sys.executable, "-m", "liveGAN.cli", "run", str(patch),
                             "--headless", "--frames", "80"], env=installed,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    seen = json.loads(probe.read_text())
    assert seen["size"] == [64, 48]
    rows = seen["rows"]
    assert len(rows) >= 10
    assert all(shape == [48, 64, 3] for *_, shape in rows)
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # in order, each once
    early = [mean for index, _, mean, _ in rows if index < 25]
    late = [mean for index, _, mean, _ in rows if index > 60]
    assert early and late
    assert max(early) < 0.5          # the source says 0: faded to black
    assert max(late) > 2.0           # then 1: the picture is up

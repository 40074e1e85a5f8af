"""Patches: structure validation reports every problem with file, key, found and expected."""
from pathlib import Path

import pytest

from liveGAN.params import Param, Registry
from liveGAN.patch import PatchError, check_params, load_patch


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "model.safetensors").write_bytes(b"")
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


GOOD = """
[model]
path = "model.safetensors"
[latent]
walk = "circle"
seed = 3
speed = 0.5
[output]
size = [640, 360]
fit = "fit"
record = "out.mp4"
[[shaders]]
effect = "grade"
params = { hue = 0.2 }
[[shaders]]
effect = "grade"
name = "grade2"
[params]
"output/fade" = 0.5
[params.grade2]
saturation = 2.0
[[mappings]]
source = "/1/fader1"
target = "latent/speed"
range = [0, 2]
curve = "exp"
"""


def test_good_patch(tmp_path):
    patch = load_patch(write(tmp_path, GOOD))
    assert patch.model.path == (tmp_path / "model.safetensors").resolve()
    assert patch.walk == "circle" and patch.size == (640, 360)
    assert [(o.kind, o.options["path"]) for o in patch.outputs] == \
        [("record", str(tmp_path / "out.mp4"))]
    assert [(i.kind, i.options) for i in patch.inputs] == \
        [("osc", {"port": 9000, "host": "127.0.0.1"})]
    assert [(s.effect, s.name) for s in patch.stages] == [("grade", "grade"), ("grade", "grade2")]
    assert patch.values == {"latent/seed": 3, "latent/speed": 0.5, "output/fit": 0,
                            "grade/hue": 0.2, "output/fade": 0.5, "grade2/saturation": 2.0}
    assert patch.mappings[0].range == (0, 2) and patch.mappings[0].curve == "exp"


def test_every_problem_reported_at_once(tmp_path):
    path = write(tmp_path, """
[model]
path = "missing.pkl"
[latent]
walk = "spiral"
speed = "fast"
[output]
size = [640]
fps = 1000
colour = "red"
[[shaders]]
name = "x"
[[mappings]]
source = "fader"
target = "latent/speed"
curve = "wobbly"
""")
    with pytest.raises(PatchError) as info:
        load_patch(path)
    keys = [p.key for p in info.value.problems]
    assert sorted(keys) == sorted(["model.path", "latent.walk", "latent.speed", "output.size",
                                   "output.fps", "output.colour", "shaders[0].effect",
                                   "mappings[0].source", "mappings[0].curve"])
    text = str(info.value)
    assert f"{path}: latent.speed: found 'fast' (string), expected a finite number" in text
    assert "expected one of 'noise', 'circle', 'beats', 'still'" in text
    assert "Traceback" not in text


def test_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "[model\npath = 1\n")
    with pytest.raises(PatchError, match=r"p\.toml: \(syntax\): found invalid TOML: .*line 1"):
        load_patch(path)


def test_model_needs_path_or_preset(tmp_path):
    with pytest.raises(PatchError, match="exactly one of model.path or model.preset"):
        load_patch(write(tmp_path, "[latent]\nseed = 1\n"))
    assert load_patch(write(tmp_path, '[model]\npreset = "sg2-256"\n')).model.preset == "sg2-256"


def test_check_params_against_registry(tmp_path):
    patch = load_patch(write(tmp_path, GOOD))
    registry = Registry([
        Param("latent", "seed", "int", 0, 0, 100), Param("latent", "speed", "float", 0, 0, 4),
        Param("output", "fit", "int", 0, 0, 2), Param("output", "fade", "float", 1, 0, 1),
        Param("grade", "hue", "float", 0, -1, 1),
    ])
    problems = check_params(patch, registry)
    assert [p.key for p in problems] == ["params.grade2.saturation"]
    assert "a parameter that does not exist" in problems[0].found
    patch.values["grade/hue"] = 5.0
    patch.values["latent/seed"] = "x"
    found = {p.key: p for p in check_params(patch, registry)}
    assert "in -1..1" in found["shaders[0].params.hue"].expected
    assert found["latent.seed"].expected == "an int"


def test_model_runtime_options(tmp_path):
    from liveGAN import patch as patch_mod
    from liveGAN.models import runtime

    # The patch keeps its own copies of the runtime's names (so `check` needs no torch).
    assert patch_mod.GRAPH_MODES == runtime.GRAPH_MODES
    assert patch_mod.PRECISIONS == runtime.PRECISIONS
    assert patch_mod.NOISE_MODES == runtime.NOISE_MODES
    plain = load_patch(write(tmp_path, GOOD)).model
    assert (plain.graph, plain.compile) == ("auto", False)
    model = load_patch(write(tmp_path, GOOD.replace(
        'path = "model.safetensors"',
        'path = "model.safetensors"\ngraph = "off"\ncompile = true'))).model
    assert (model.graph, model.compile) == ("off", True)
    with pytest.raises(PatchError) as info:
        load_patch(write(tmp_path, GOOD.replace(
            'path = "model.safetensors"',
            'path = "model.safetensors"\ngraph = "sometimes"\ncompile = "yes"')))
    assert sorted(p.key for p in info.value.problems) == ["model.compile", "model.graph"]

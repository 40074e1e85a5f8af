"""The native model format: save/load round trip, sidecar JSON, atomic writes, bad files."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from liveGAN.models import ModelLoadError, load_generator
from liveGAN.models.networks import ARCHITECTURES, build, resolve
from liveGAN.models.formats.native import load_native, save_native

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stylegan"
CASES = ["sg2-tiny", "sg2-cond", "sg3t-tiny", "sg3r-tiny"]


def expected(case: str) -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURES / f"{case}.expected.safetensors"))


def labels(e: dict) -> torch.Tensor | None:
    return e["c"] if e["c"].numel() else None


@pytest.mark.parametrize("case", CASES)
def test_fixture_sidecar_loads_as_native_and_matches_official(case):
    G = load_generator(FIXTURES / f"{case}.safetensors")
    e = expected(case)
    assert G.source_format == "native"
    assert G.architecture == json.loads((FIXTURES / f"{case}.json").read_text())["architecture"]
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    ws = G.mapping(e["z"], labels(e), truncation_psi=0.7)
    assert (ws - e["ws_psi07"]).abs().max() < 1e-4
    img = G.synthesis(e["ws_psi07"], noise_mode="const")
    assert (img - e["img_const"]).abs().max() < 1e-4


def test_save_native_round_trip_is_self_describing(tmp_path):
    G = load_generator(FIXTURES / "sg2-cond.safetensors")
    out = save_native(tmp_path / "model.safetensors", G, "stylegan2", G.init_kwargs,
                      metadata={"kimg": 12.5, "dataset": "flowers"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temp left
    with safe_open(str(out), framework="pt") as f:
        header = json.loads(f.metadata()["livegan"])
    assert header["format"] == 1 and header["architecture"] == "stylegan2"
    assert header["num_ws"] == G.num_ws and header["dataset"] == "flowers"
    assert header["init_kwargs"]["c_dim"] == 5
    G2 = load_native(out)
    e = expected("sg2-cond")
    assert torch.equal(G2.synthesis(e["ws_psi07"]), G.synthesis(e["ws_psi07"]))
    assert G2.native_metadata["kimg"] == 12.5


def test_save_native_replaces_atomically_and_keeps_old_file_on_failure(tmp_path):
    G = load_generator(FIXTURES / "sg2-tiny.safetensors")
    target = tmp_path / "m.safetensors"
    save_native(target, G, "stylegan2", G.init_kwargs)
    before = target.read_bytes()
    with pytest.raises(ValueError, match="JSON"):
        save_native(target, G, "stylegan2", G.init_kwargs, metadata={"bad": object()})
    with pytest.raises(ValueError, match="unknown architecture"):
        save_native(target, G, "stylegan9", G.init_kwargs)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_bare_state_dict_without_description_is_refused(tmp_path):
    shutil.copy(FIXTURES / "sg2-tiny.safetensors", tmp_path / "bare.safetensors")
    with pytest.raises(ModelLoadError, match="bare.safetensors.*sidecar bare.json"):
        load_generator(tmp_path / "bare.safetensors")


def test_sidecar_naming_an_unknown_architecture_or_wrong_shapes(tmp_path):
    shutil.copy(FIXTURES / "sg2-tiny.safetensors", tmp_path / "m.safetensors")
    desc = json.loads((FIXTURES / "sg2-tiny.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps({**desc, "architecture": "biggan"}))
    with pytest.raises(ModelLoadError, match="m.json: architecture 'biggan'"):
        load_generator(tmp_path / "m.safetensors")
    desc["init_kwargs"]["w_dim"] = 64
    (tmp_path / "m.json").write_text(json.dumps(desc))
    with pytest.raises(ModelLoadError, match="m.safetensors: tensor .* has shape"):
        load_generator(tmp_path / "m.safetensors")


@pytest.mark.parametrize("cut", [4, 20, 5000])
def test_truncated_native_file_is_one_clear_error(tmp_path, cut):
    data = (FIXTURES / "sg3t-tiny.safetensors").read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[:cut])
    with pytest.raises(ModelLoadError, match="cut.safetensors"):
        load_generator(bad)


def test_architecture_table_builds_every_available_class():
    for name in ARCHITECTURES:
        try:
            cls = resolve(name)
        except ImportError:
            continue  # an architecture still being written elsewhere
        assert isinstance(cls, type)
    G = build("stylegan2", {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 8,
                            "img_channels": 3, "channel_base": 64, "channel_max": 8,
                            "num_fp16_res": 0})
    assert G.architecture == "stylegan2" and G.num_ws == 4
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        build("nope", {})


def test_light_generator_exports_and_loads_through_the_native_format(tmp_path):
    light = pytest.importorskip("liveGAN.models.networks.light")
    torch.manual_seed(0)
    G = light.Generator(z_dim=8, w_dim=8, img_resolution=8, channel_base=64, channel_max=8).eval()
    path = save_native(tmp_path / "light.safetensors", G, "light", G.init_kwargs, {"kimg": 1})
    L = load_generator(path)
    assert L.architecture == "light" and L.source_format == "native"
    ws = G.mapping(torch.randn(2, 8), None)
    assert torch.equal(L.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const"))

"""The light generator follows the generator contract and survives the native format."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from liveGAN.models.networks.light import Generator, noise_layers

TINY = dict(z_dim=16, w_dim=16, img_resolution=16, channel_base=64, channel_max=16)


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return Generator(**TINY).eval()


def test_contract_attributes_and_shapes(G):
    assert (G.z_dim, G.c_dim, G.w_dim, G.img_resolution, G.img_channels) == (16, 0, 16, 16, 3)
    assert G.num_ws == 2 * 3  # resolutions 4, 8, 16
    z = torch.randn(3, 16)
    ws = G.mapping(z)
    assert ws.shape == (3, G.num_ws, 16)
    img = G.synthesis(ws, noise_mode="const")
    assert img.shape == (3, 3, 16, 16)
    assert torch.isfinite(img).all()
    # Different latents give different images.
    assert (img[0] - img[1]).abs().mean() > 1e-4


def test_init_kwargs_are_json_and_rebuild(G):
    kwargs = json.loads(json.dumps(G.init_kwargs))
    H = Generator(**kwargs)
    H.load_state_dict(G.state_dict())
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.allclose(G(z), H(z), atol=1e-6)


def test_truncation_pulls_towards_w_avg(G):
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(16))
        z = torch.randn(4, 16)
        full = G.mapping(z)
        zero = G.mapping(z, truncation_psi=0)
        half = G.mapping(z, truncation_psi=0.5, truncation_cutoff=2)
    assert torch.allclose(zero, G.mapping.w_avg.expand_as(zero))
    assert torch.allclose(half[:, :2], G.mapping.w_avg.lerp(full[:, :2], 0.5), atol=1e-6)
    assert torch.allclose(half[:, 2:], full[:, 2:])


def test_update_emas_moves_w_avg():
    G = Generator(**TINY)
    before = G.mapping.w_avg.clone()
    G.mapping(torch.randn(8, 16), update_emas=True)
    assert not torch.equal(before, G.mapping.w_avg)


def test_noise_modes_and_live_noise_gain(G):
    layers = noise_layers(G)
    assert len(layers) == 5  # 1 conv at 4x4, 2 at 8x8 and 16x16
    for _, layer in layers:
        layer.noise_strength.data.fill_(0.5)
        assert "noise_gain" not in layer.state_dict()       # a live control, not a weight
    ws = G.mapping(torch.randn(1, 16))
    with torch.no_grad():
        a = G.synthesis(ws, noise_mode="const")
        b = G.synthesis(ws, noise_mode="const")
        compat = G.synthesis(ws, noise_mode="const", force_fp32=True, fused_modconv=True)
        none = G.synthesis(ws, noise_mode="none")
        r1 = G.synthesis(ws, noise_mode="random")
        for _, layer in layers:
            layer.noise_gain.fill_(0.0)
        gain0 = G.synthesis(ws, noise_mode="const")
        for _, layer in layers:
            layer.noise_gain.fill_(1.0)
            layer.noise_strength.data.fill_(0.0)
    assert torch.equal(a, b)
    # The official synthesis keywords are accepted (the live runtime passes force_fp32).
    assert torch.equal(compat, a)
    assert not torch.allclose(a, none)
    assert not torch.allclose(a, r1)
    assert torch.allclose(gain0, none, atol=1e-6)
    with pytest.raises(ValueError):
        G.synthesis(ws, noise_mode="loud")


def test_conditional_mapping_needs_c():
    G = Generator(**{**TINY, "c_dim": 3})
    z, c = torch.randn(2, 16), torch.eye(3)[:2]
    assert G.mapping(z, c).shape == (2, G.num_ws, 16)
    with pytest.raises(ValueError):
        G.mapping(z)


def test_native_roundtrip_through_load_generator(G, tmp_path):
    from liveGAN.models import load_generator
    from liveGAN.models.formats.native import save_native

    path = save_native(tmp_path / "light.safetensors", G, "light", G.init_kwargs,
                       {"training": {"kimg": 1.0}})
    H = load_generator(path)
    assert H.architecture == "light" and H.num_ws == G.num_ws
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.allclose(G(z), H(z), atol=1e-6)


def test_bad_resolution_is_a_clear_error():
    with pytest.raises(ValueError, match="power of two"):
        Generator(**{**TINY, "img_resolution": 48})


DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "patches" / "models" / "default.safetensors"


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="the default model is not in the tree")
def test_shipped_default_model_loads_and_varies():
    from liveGAN.models import load_generator

    G = load_generator(DEFAULT_MODEL)
    assert G.architecture == "light" and G.img_resolution == 128
    torch.manual_seed(0)
    with torch.no_grad():
        img = G(torch.randn(4, G.z_dim), None)
    assert img.shape == (4, 3, 128, 128) and torch.isfinite(img).all()
    diffs = [(img[i] - img[j]).abs().mean() for i in range(4) for j in range(i + 1, 4)]
    assert min(diffs) > 0.02      # different seeds, visibly different images

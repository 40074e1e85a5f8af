"""Style mixing and the layer map it shares with directions, bends and blends."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from liveGAN.latent import LatentConfigError
from liveGAN.latent.keyframes import KeyframeStore
from liveGAN.latent.layers import network_layers, parse_rows, style_ranges
from liveGAN.latent.mixing import StyleMixer, mixing_ranges
from liveGAN.latent.walks import Walk
from liveGAN.models import load_generator

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stylegan"


def light_generator():
    from liveGAN.models.networks.light import Generator

    torch.manual_seed(0)
    return Generator(z_dim=16, w_dim=16, img_resolution=64, channel_base=256,
                     channel_max=16).eval().requires_grad_(False)


def models():
    return {case: load_generator(FIXTURES / f"{case}.safetensors")
            for case in ("sg2-tiny", "sg3t-tiny")} | {"light": light_generator()}


@pytest.mark.parametrize("case", ["sg2-tiny", "sg3t-tiny", "light"])
def test_each_layer_reads_the_row_the_map_says(case):
    """Trace a synthesis whose W+ rows are all different and see which row each layer's
    style (affine) input came from."""
    G = models()[case]
    ws = torch.arange(G.num_ws, dtype=torch.float32).reshape(1, -1, 1).repeat(1, 1, G.w_dim)
    seen: dict[str, int] = {}
    hooks = []
    for name, module in G.synthesis.named_modules():
        affine = getattr(module, "affine", None)
        if isinstance(affine, torch.nn.Module):
            hooks.append(affine.register_forward_pre_hook(
                lambda m, args, name=name: seen.__setitem__(name, int(args[0][0, 0].item()))))
    with torch.no_grad():
        G.synthesis(ws)
    for hook in hooks:
        hook.remove()
    mapped = {layer.name: layer.row for layer in network_layers(G) if layer.kind != "plain"}
    assert mapped == seen


def test_ranges_split_by_resolution_and_in_thirds():
    G = models()
    # sg2-tiny (32²): rows read by 4²-8² convs are 0..2, 16²-32² the rest; no fine layers.
    assert style_ranges(G["sg2-tiny"]) == {"coarse": (0, 3), "middle": (3, 8)}
    # light 64²: b4 conv1 row 0, b8 rows 1-2, b16 rows 3-4, b32 rows 5-6, b64 rows 7-8, torgb 9.
    assert style_ranges(G["light"]) == {"coarse": (0, 3), "middle": (3, 7), "fine": (7, 10)}
    assert style_ranges(G["sg3t-tiny"]) == {"coarse": (0, 6), "middle": (6, 11), "fine": (11, 16)}
    assert mixing_ranges(G["sg2-tiny"], {"coarse": [0, 2]})["coarse"] == (0, 2)
    with pytest.raises(LatentConfigError, match="mixing.texture"):
        mixing_ranges(G["sg2-tiny"], {"texture": [0, 2]})
    assert parse_rows("2:", 8) == (2, 8) and parse_rows([0, -2], 8) == (0, 6)
    with pytest.raises(LatentConfigError, match="no rows"):
        parse_rows("5:3", 8)


def second_ws(G, seed, psi=1.0):
    z = torch.from_numpy(Walk("still", seed, G.z_dim).position(0.0)).reshape(1, -1)
    return G.mapping(z, None, truncation_psi=psi)


@torch.no_grad()
def test_mixing_takes_the_ranges_rows_from_the_second_latent():
    G = models()["sg2-tiny"]
    mixer = StyleMixer(G)
    ws = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(5)), None)
    assert mixer.edit(ws, {}) is ws and mixer.edit(ws, {"mix/coarse": 0.0, "mix/seed": 9}) is ws
    out = mixer.edit(ws, {"mix/coarse": 1.0, "mix/seed": 9, "latent/truncation": 1.0})
    other = second_ws(G, 9)
    assert torch.equal(out[:, :3], other[:, :3])
    assert torch.equal(out[:, 3:], ws[:, 3:])
    half = mixer.edit(ws, {"mix/middle": 0.5, "mix/seed": 9})
    assert torch.allclose(half[:, 3:], 0.5 * (ws[:, 3:] + other[:, 3:]), atol=1e-6)
    assert torch.equal(half[:, :3], ws[:, :3])
    # The second latent is truncated like the first: this frame's psi and cutoff.
    truncated = mixer.edit(ws, {"mix/coarse": 1, "mix/middle": 1, "mix/seed": 9,
                                "latent/truncation": 0.5, "latent/truncation_cutoff": 4})
    expected = G.mapping(torch.from_numpy(Walk("still", 9, G.z_dim).position(0.0))[None],
                         None, truncation_psi=0.5, truncation_cutoff=4)
    assert torch.allclose(truncated, expected, atol=1e-6)


@torch.no_grad()
def test_mixing_from_a_kept_keyframe_uses_its_w(tmp_path):
    G = models()["sg2-tiny"]
    store = KeyframeStore(None)
    kept = torch.randn(1, G.num_ws, G.w_dim)
    store.keep(3, torch.randn(G.z_dim), kept, seed=11)
    mixer = StyleMixer(G, keyframes=store)
    assert "mix/keyframe" in [p.key for p in mixer.params()]
    ws = second_ws(G, 1)
    out = mixer.edit(ws, {"mix/coarse": 1, "mix/middle": 1, "mix/keyframe": 3,
                          "latent/truncation": 0.5})
    assert torch.equal(out, kept)   # a kept W is played as it was seen: no second truncation
    # An empty slot falls back to mix/seed.
    fallback = mixer.edit(ws, {"mix/coarse": 1, "mix/keyframe": 4, "mix/seed": 2})
    assert torch.equal(fallback[:, :3], second_ws(G, 2)[:, :3])

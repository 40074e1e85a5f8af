"""Live model controls: class labels and blends, StyleGAN3 pan/rotate/zoom, noise gains."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from liveGAN.models import load_generator
from liveGAN.models.controls import ModelControls
from liveGAN.params import Registry

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stylegan"


def fixture(case: str):
    G = load_generator(FIXTURES / f"{case}.safetensors")
    return G, load_file(str(FIXTURES / f"{case}.expected.safetensors"))


def keys(controls: ModelControls) -> list[str]:
    return [p.key for p in controls.params()]


def test_declared_params_follow_the_model():
    cond, _ = fixture("sg2-cond")
    sg3, _ = fixture("sg3t-tiny")
    plain, _ = fixture("sg2-tiny")
    cond_keys, sg3_keys, plain_keys = (keys(ModelControls(g)) for g in (cond, sg3, plain))
    assert cond_keys[:3] == ["model/class", "model/class_b", "model/class_mix"]
    first = ModelControls(cond).params()[0]
    assert first.max == 4 and first.kind == "int"
    assert sg3_keys == ["model/pan_x", "model/pan_y", "model/rotate", "model/zoom"]
    # sg2-tiny at 32²: one noise layer at 4², two at each of 8², 16², 32².
    assert plain_keys == ["model/noise"] + [f"noise/layer_{i:02d}" for i in range(7)]
    assert not any(k.startswith("latent/") for k in cond_keys + sg3_keys + plain_keys)
    Registry(ModelControls(cond).params())  # declarations are valid and unique


def test_class_blend_gives_the_expected_labels_and_official_ws():
    G, e = fixture("sg2-cond")
    controls = ModelControls(G)
    assert torch.equal(controls.labels({}, "cpu"), torch.tensor([[1.0, 0, 0, 0, 0]]))
    blend = controls.labels({"model/class": 1, "model/class_b": 3, "model/class_mix": 0.25}, "cpu")
    assert torch.allclose(blend, torch.tensor([[0.0, 0.75, 0, 0.25, 0]]))
    same = controls.labels({"model/class": 2, "model/class_b": 2, "model/class_mix": 0.6}, "cpu")
    assert torch.allclose(same, torch.tensor([[0.0, 0, 1, 0, 0]]))
    clamped = controls.labels({"model/class": 99, "model/class_mix": 0}, "cpu")
    assert clamped[0, 4] == 1 and clamped.sum() == 1
    for row, label in ((0, 1), (1, 3)):  # the fixture's labels are the one-hots of 1 and 3
        c = controls.labels({"model/class": label}, "cpu")
        assert torch.equal(c, e["c"][row:row + 1])
        ws = G.mapping(e["z"][row:row + 1], c, truncation_psi=0.7)
        assert (ws - e["ws_psi07"][row:row + 1]).abs().max() < 1e-4
    assert ModelControls(fixture("sg2-tiny")[0]).labels({"model/class": 1}, "cpu") is None


@pytest.mark.parametrize("case", ["sg3t-tiny", "sg3r-tiny"])
def test_sg3_pan_rotate_reproduce_the_official_transformed_image(case):
    G, e = fixture(case)
    controls = ModelControls(G)
    buffer = G.synthesis.input.transform
    pointer = buffer.data_ptr()
    m = e["input_transform"].double()
    # The fixture's transform is a rotation then a translation; read them back out of it.
    values = {"model/rotate": math.degrees(math.atan2(m[0, 1], m[0, 0])),
              "model/pan_x": float(m[0, 2]), "model/pan_y": float(m[1, 2])}
    controls.apply(values)
    img = G.synthesis(e["ws_psi07"], noise_mode="const")
    assert (img - e["img_transformed"]).abs().max() < 1e-4
    assert (img - e["img_const"]).abs().max() > 0.05  # the view really moved
    assert G.synthesis.input.transform is buffer and buffer.data_ptr() == pointer  # in place
    controls.apply({})  # defaults: identity again
    assert (G.synthesis(e["ws_psi07"]) - e["img_const"]).abs().max() < 1e-4


def test_sg3_zoom_scales_the_sampling_grid():
    G, e = fixture("sg3t-tiny")
    controls = ModelControls(G)
    controls.apply({"model/zoom": 2.0})
    assert torch.allclose(G.synthesis.input.transform,
                          torch.tensor([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 1.0]]))
    zoomed = G.synthesis(e["ws_psi07"])
    assert (zoomed - e["img_const"]).abs().max() > 0.05


def test_noise_gains_zero_on_every_layer_equals_noise_mode_none():
    G, e = fixture("sg2-tiny")
    controls = ModelControls(G)
    layers = [k for k in keys(controls) if k.startswith("noise/")]
    pointers = [layer.noise_gain.data_ptr() for _, layer in controls.noise_layers]
    controls.apply({k: 0.0 for k in layers})
    silent = G.synthesis(e["ws_psi07"], noise_mode="const")
    assert (silent - e["img_none"]).abs().max() < 1e-4
    assert pointers == [layer.noise_gain.data_ptr() for _, layer in controls.noise_layers]
    controls.apply({"model/noise": 0.0})  # the master alone silences every layer too
    assert (G.synthesis(e["ws_psi07"]) - e["img_none"]).abs().max() < 1e-4
    controls.apply({})
    assert (G.synthesis(e["ws_psi07"]) - e["img_const"]).abs().max() < 1e-4
    controls.apply({"noise/layer_06": 2.0})
    assert (G.synthesis(e["ws_psi07"]) - e["img_const"]).abs().max() > 1e-3


def test_light_generator_offers_noise_controls():
    light = pytest.importorskip("liveGAN.models.networks.light")
    G = light.Generator(z_dim=8, w_dim=8, img_resolution=8, channel_base=64, channel_max=8)
    controls = ModelControls(G.eval())
    assert "model/noise" in keys(controls) and "noise/layer_00" in keys(controls)
    ws = G.mapping(torch.randn(1, 8), None)
    controls.apply({"model/noise": 0.0})
    assert torch.allclose(G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="none"),
                          atol=1e-6)


# ---------------------------------------------------------------- latent edits (issue 12)
def edited_controls(case="sg2-tiny", store=None):
    """A model with every latent edit a patch can add: directions, mixing, bends, a blend."""
    import copy

    from liveGAN.latent.bending import parse_bends
    from liveGAN.latent.directions import direction_sets, parse_direction_specs

    G, e = fixture(case)
    other = copy.deepcopy(G)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    sets, _ = direction_sets(parse_direction_specs(
        [{"method": "sefa", "count": 3}, {"method": "sefa", "count": 2, "layers": "0:3",
                                          "name": "coarse"}]), G)
    bends = parse_bends([{"layer": "b16.conv1", "op": "rotate"},
                         {"layer": "b8.conv1", "op": "dilate", "channels": 0.5}])
    controls = ModelControls(G, directions=sets, mixing=True, keyframes=store, bends=bends,
                             blend_with=other)
    return G, e, other, controls


EDITS = {"direction/0": 1.5, "direction/coarse_1": -2.0, "mix/seed": 4, "mix/coarse": 0.7,
         "mix/middle": 0.3, "bend/0_rotate": 25.0, "bend/1_dilate": 0.6, "model/blend": 0.4,
         "model/blend_middle": 0.5, "latent/truncation": 0.7}


def frame(G, controls, z, values):
    with torch.inference_mode():
        controls.apply(values)
        ws = G.mapping(z, None, truncation_psi=values.get("latent/truncation", 1.0))
        return G.synthesis(controls.edit_ws(ws, values), noise_mode="const")


def test_latent_edits_declare_their_params_only_when_asked():
    plain_keys = keys(ModelControls(fixture("sg2-tiny")[0]))
    G, _, _, controls = edited_controls()
    all_keys = keys(controls)
    assert all_keys[:len(plain_keys)] == plain_keys
    assert all_keys[len(plain_keys):] == [
        "model/blend", "model/blend_coarse", "model/blend_middle",
        "mix/seed", "mix/coarse", "mix/middle",
        "direction/0", "direction/1", "direction/2", "direction/coarse_0", "direction/coarse_1",
        "bend/0_rotate", "bend/1_dilate"]
    Registry(controls.params())


def test_edit_ws_is_the_same_tensor_until_an_edit_is_active():
    G, e, _, controls = edited_controls()
    ws = e["ws_psi07"][:1]
    assert controls.edit_ws(ws, {}) is ws
    assert controls.edit_ws(ws, {"direction/0": 0.0, "mix/coarse": 0.0, "mix/seed": 9}) is ws
    moved = controls.edit_ws(ws, {"direction/0": 1.0})
    assert moved is not ws and controls.current_ws() is moved


def test_every_edit_together_is_deterministic_and_undone_by_defaults():
    z = torch.randn(1, 32, generator=torch.Generator().manual_seed(8))
    G1, _, _, first = edited_controls()
    G2, _, _, second = edited_controls()
    plain = frame(G1, first, z, {"latent/truncation": 0.7})
    edited = frame(G1, first, z, EDITS)
    assert torch.equal(edited, frame(G2, second, z, EDITS))   # fresh objects, same frame
    assert not torch.equal(edited, plain)
    assert torch.equal(frame(G1, first, z, {"latent/truncation": 0.7}), plain)
    first.close()
    assert torch.equal(frame(G1, ModelControls(G1), z, {"latent/truncation": 0.7}), plain)


def test_a_blend_refreshes_the_second_latent_of_style_mixing():
    from liveGAN.latent.walks import Walk

    G, e, other, controls = edited_controls()
    ws = e["ws_psi07"][:1]
    z2 = torch.from_numpy(Walk("still", 4, G.z_dim).position(0.0))[None]
    values = {"mix/seed": 4, "mix/coarse": 1.0}
    with torch.inference_mode():
        controls.apply(values)
        before = controls.edit_ws(ws, values)
        assert torch.allclose(before[:, :3], G.mapping(z2, None)[:, :3], atol=1e-6)
        values["model/blend"] = 1.0
        controls.apply(values)
        after = controls.edit_ws(ws, values)
        assert torch.allclose(after[:, :3], other.mapping(z2, None)[:, :3], atol=1e-6)


def test_the_second_latent_of_a_conditional_model_takes_this_frames_class():
    from liveGAN.latent.walks import Walk

    G, e = fixture("sg2-cond")
    controls = ModelControls(G, mixing=True)
    z2 = torch.from_numpy(Walk("still", 2, G.z_dim).position(0.0))[None]
    ws = e["ws_psi1"][:1]
    with torch.inference_mode():
        for label in (1, 3):
            values = {"model/class": label, "mix/seed": 2, "mix/coarse": 1.0}
            c = torch.nn.functional.one_hot(torch.tensor([label]), 5).float()
            mixed = controls.edit_ws(ws, values)
            assert torch.allclose(mixed[:, :3], G.mapping(z2, c)[:, :3], atol=1e-6)
            assert torch.equal(mixed[:, 3:], ws[:, 3:])

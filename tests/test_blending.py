"""Model blending (layer-wise, in place) and the crossfade on a model swap."""
from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from liveGAN.latent import LatentConfigError
from liveGAN.latent.blending import Crossfade, ModelBlend, check_blendable, mix_frames
from liveGAN.models import load_generator

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stylegan"


def pair(case="sg2-tiny"):
    """The fixture, and a second model of the same architecture with other weights."""
    G = load_generator(FIXTURES / f"{case}.safetensors")
    other = copy.deepcopy(G)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for tensor in list(other.parameters()) + [other.mapping.w_avg]:
            # Other scales as well as other values, as two trained models have: a blend
            # that computed its end points (a + (b - a)) instead of copying them would show.
            tensor.mul_(0.25 + 3 * torch.rand(tensor.shape, generator=generator))
            tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator))
    return G, other


def render(G, z):
    with torch.inference_mode():
        return G.synthesis(G.mapping(z, None, truncation_psi=0.7), noise_mode="const")


@pytest.mark.parametrize("case", ["sg2-tiny", "sg3t-tiny"])
def test_blend_zero_and_one_reproduce_each_model_exactly(case):
    G, other = pair(case)
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0))
    own, theirs = render(G, z), render(other, z)
    pointers = [p.data_ptr() for p in G.parameters()]
    blend = ModelBlend(G, other)
    blend.apply({"model/blend": 1.0})
    assert torch.equal(render(G, z), theirs)
    blend.apply({"model/blend": 0.4})
    between = render(G, z)
    assert not torch.equal(between, own) and not torch.equal(between, theirs)
    blend.apply({"model/blend": 0.0})
    assert torch.equal(render(G, z), own)
    assert pointers == [p.data_ptr() for p in G.parameters()]   # rewritten in place
    if case == "sg3t-tiny":   # the live view transform is a control, not a weight
        assert torch.equal(G.synthesis.input.transform, torch.eye(3))


def test_blend_is_a_lerp_per_layer_range():
    G, other = pair()
    first = {k: v.clone() for k, v in G.state_dict().items()}
    second = other.state_dict()
    blend = ModelBlend(G, other)
    assert [p.key for p in blend.params()] == ["model/blend", "model/blend_coarse",
                                               "model/blend_middle"]
    changed = blend.apply({"model/blend": 0.5})
    assert changed   # the mapping moved: W mapped before is stale
    weight = "mapping.fc0.weight"
    assert torch.allclose(G.state_dict()[weight], (first[weight] + second[weight]) / 2, atol=1e-6)
    # Second model's coarse layers (4²-8²), the first model's middle ones (16²-32²).
    blend.apply({"model/blend": 1.0, "model/blend_middle": 0.0})
    state = G.state_dict()
    for name in ("synthesis.b4.const", "synthesis.b4.conv1.weight",
                 "synthesis.b8.conv1.affine.weight"):
        assert torch.equal(state[name], second[name]), name
    for name in ("synthesis.b16.conv0.weight", "synthesis.b32.conv1.affine.bias",
                 "synthesis.b32.torgb.weight"):
        assert torch.equal(state[name], first[name]), name
    assert torch.equal(state["mapping.w_avg"], second["mapping.w_avg"])


def test_blending_different_models_is_one_message():
    sg2 = load_generator(FIXTURES / "sg2-tiny.safetensors")
    with pytest.raises(LatentConfigError, match="architecture stylegan3 there, stylegan2 here"):
        check_blendable(sg2, load_generator(FIXTURES / "sg3t-tiny.safetensors"))
    with pytest.raises(LatentConfigError) as err:
        ModelBlend(sg2, load_generator(FIXTURES / "sg2-cond.safetensors"))
    message = str(err.value)
    assert "img_resolution 16 there, 32 here" in message and "c_dim 5 there, 0 here" in message
    assert "\n" not in message


def request_at(t):
    return SimpleNamespace(time=t)


def test_crossfade_goes_from_the_old_model_to_the_new_by_show_time():
    old = np.full((8, 8, 4), 40, np.uint8)
    new = np.full((16, 16, 4), 240, np.uint8)
    calls = []
    fade = Crossfade(lambda r: calls.append("old") or old, lambda r: calls.append("new") or new,
                     seconds=2.0)
    start = fade(request_at(10.0))
    assert start.shape == new.shape and (start == 40).all() and not fade.finished
    middle = fade(request_at(11.0))
    assert (middle == 140).all()               # half way (smoothstep 0.5 is 0.5)
    quarter = fade(request_at(10.5))           # a pure function of show time
    assert (quarter == round(40 + 200 * 0.15625)).all()
    end = fade(request_at(12.0))
    assert end is new and fade.finished and calls[-1] == "new"
    tensor = mix_frames(torch.from_numpy(old), torch.from_numpy(new), 0.5)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (16, 16, 4)

"""Network bending: zero is untouched bit for bit, each op does what it says, bad bends are
one message."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from liveGAN.latent import LatentConfigError
from liveGAN.latent.bending import OPS, Bender, check_bends, parse_bends, remove_bends
from liveGAN.models import load_generator

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stylegan"
EVERY_OP = {"translate": [0.25, -0.1], "rotate": 30.0, "scale": 0.5, "erode": 0.7,
            "dilate": 0.7, "multiply": 1.0, "threshold": 1.0, "invert": 0.5, "ablate": 0.8}


def light_generator():
    from liveGAN.models.networks.light import Generator

    torch.manual_seed(0)
    return Generator(z_dim=16, w_dim=16, img_resolution=32, channel_base=256,
                     channel_max=16).eval().requires_grad_(False)


def generator(case):
    if case == "light":
        return light_generator()
    return load_generator(FIXTURES / f"{case}.safetensors")


LAYERS = {"sg2-tiny": ["b8.conv1", "b16.conv0", "b32.torgb"],
          "sg3t-tiny": ["input", "L3_36_32", "L10_52_32"],
          "light": ["blocks.1.conv1", "blocks.2.conv0"]}


def values_for(specs, amounts):
    values = {}
    for spec in specs:
        amount = amounts[spec.op]
        values.update(zip(spec.keys(), amount if isinstance(amount, list) else [amount]))
    return values


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("case", ["sg2-tiny", "sg3t-tiny", "light"])
def test_every_amount_at_zero_reproduces_the_unbent_frame_exactly(case, static):
    G = generator(case)
    ws = G.mapping(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(1)),
                   None, truncation_psi=0.7)
    with torch.inference_mode():
        reference = G.synthesis(ws, noise_mode="const")
        # Every op on every layer, on all channels or on a seeded half, in turn.
        tables = [{"layer": layer, "op": op, "channels": 0.5 if i % 2 else "all", "seed": i}
                  for i, (layer, op) in enumerate((l, o) for l in LAYERS[case] for o in OPS)]
        specs = parse_bends(tables)
        bender = Bender(G, specs, static=static)
        bender.apply({})
        assert torch.equal(G.synthesis(ws, noise_mode="const"), reference)
        bender.apply(values_for(specs, EVERY_OP))
        bent = G.synthesis(ws, noise_mode="const")
        assert torch.isfinite(bent).all() and not torch.equal(bent, reference)
        bender.apply({key: 0.0 for key in values_for(specs, EVERY_OP)})
        assert torch.equal(G.synthesis(ws, noise_mode="const"), reference)
        bender.remove()
        assert torch.equal(G.synthesis(ws, noise_mode="const"), reference)


def layer_io(G, layer_name, bend_table, amounts):
    """(unbent output, bent output) of one layer for one bend and amount(s)."""
    module = dict(G.synthesis.named_modules())[layer_name]
    captured = {}
    before = module.register_forward_hook(lambda m, i, o: captured.__setitem__("x", o.clone()))
    spec = parse_bends([bend_table])[0]
    bender = Bender(G, [spec])
    after = module.register_forward_hook(lambda m, i, o: captured.__setitem__("y", o.clone()))
    bender.apply(dict(zip(spec.keys(), amounts)))
    ws = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(2)), None)
    with torch.inference_mode():
        G.synthesis(ws)
    before.remove()
    after.remove()
    bender.remove()
    return captured["x"], captured["y"]


def test_ops_do_what_they_say():
    G = generator("sg2-tiny")
    layer = "b16.conv1"   # 32 channels at 16x16
    x, y = layer_io(G, layer, {"layer": layer, "op": "multiply"}, [1.0])
    assert torch.allclose(y, 2 * x, rtol=1e-6)
    x, y = layer_io(G, layer, {"layer": layer, "op": "ablate"}, [1.0])
    assert torch.count_nonzero(y) == 0
    # A quarter of the width to the right, wrapping round: a roll by 4 of 16 pixels.
    x, y = layer_io(G, layer, {"layer": layer, "op": "translate"}, [0.25, 0.0])
    assert torch.allclose(y, torch.roll(x, shifts=4, dims=3), atol=1e-5)
    x, y = layer_io(G, layer, {"layer": layer, "op": "translate"}, [0.0, -0.5])
    assert torch.allclose(y, torch.roll(x, shifts=-8, dims=2), atol=1e-5)
    # A quarter turn of a square map: the picture rotated by 90 degrees one way or the other.
    x, y = layer_io(G, layer, {"layer": layer, "op": "rotate"}, [90.0])
    turned = [torch.rot90(x, k, dims=(2, 3)) for k in (1, -1)]
    assert min(float((y - t).abs().max()) for t in turned) < 1e-4
    # Zoom 2 (amount 1): the middle half of the map, twice as large.
    x, y = layer_io(G, layer, {"layer": layer, "op": "scale"}, [1.0])
    middle = F.interpolate(x[:, :, 4:12, 4:12], scale_factor=2, mode="bilinear",
                           align_corners=False)
    assert torch.allclose(y[:, :, 2:-2, 2:-2], middle[:, :, 2:-2, 2:-2], atol=1e-4)
    # Dilate / erode at full amount: the 3x3 neighbourhood max / min (edges padded out).
    x, y = layer_io(G, layer, {"layer": layer, "op": "dilate"}, [1.0])
    patches = F.unfold(F.pad(x, (1, 1, 1, 1), value=-1e9), 3).reshape(1, 32, 9, 16, 16)
    assert torch.equal(y, patches.max(dim=2).values)
    x, y = layer_io(G, layer, {"layer": layer, "op": "erode", "size": 5}, [1.0])
    patches = F.unfold(F.pad(x, (2, 2, 2, 2), value=1e9), 5).reshape(1, 32, 25, 16, 16)
    assert torch.equal(y, patches.min(dim=2).values)
    x, y = layer_io(G, layer, {"layer": layer, "op": "invert"}, [1.0])
    assert torch.allclose(y, 2 * x.mean(dim=(2, 3), keepdim=True) - x, atol=1e-5)
    x, y = layer_io(G, layer, {"layer": layer, "op": "threshold"}, [1.0])
    rms = x.square().mean(dim=(2, 3), keepdim=True).sqrt()
    assert torch.equal(y, torch.where(x.abs() >= rms, x, torch.zeros_like(x)))


def test_only_the_chosen_channels_bend():
    G = generator("sg2-tiny")
    layer = "b16.conv1"
    x, y = layer_io(G, layer, {"layer": layer, "op": "rotate", "channels": [0, 5, 31]}, [45.0])
    changed = [c for c in range(32) if not torch.equal(x[:, c], y[:, c])]
    assert changed == [0, 5, 31]
    x, y = layer_io(G, layer, {"layer": layer, "op": "ablate", "channels": 0.25, "seed": 4},
                    [1.0])
    zeroed = [c for c in range(32) if torch.count_nonzero(y[:, c]) == 0]
    assert len(zeroed) == 8 and all(torch.equal(x[:, c], y[:, c])
                                    for c in range(32) if c not in zeroed)
    _, y_again = layer_io(G, layer, {"layer": layer, "op": "ablate", "channels": 0.25,
                                     "seed": 4}, [1.0])
    _, y_other = layer_io(G, layer, {"layer": layer, "op": "ablate", "channels": 0.25,
                                     "seed": 5}, [1.0])
    assert torch.equal(y, y_again) and not torch.equal(y, y_other)


def test_amounts_live_in_buffers_written_in_place():
    G = generator("sg2-tiny")
    keys_before = set(G.state_dict())
    specs = parse_bends([{"layer": "b8.conv1", "op": "rotate", "amount": 10.0},
                         {"layer": "b8.conv1", "op": "translate", "name": "slide"}])
    bender = Bender(G, specs)
    params = {p.key: p for p in bender.params()}
    assert list(params) == ["bend/0_rotate", "bend/slide_x", "bend/slide_y"]
    assert params["bend/0_rotate"].default == 10.0 and params["bend/0_rotate"].max == 180.0
    module = G.synthesis.b8.conv1
    buffer = module.livegan_bend_amounts
    pointer = buffer.data_ptr()
    bender.apply({"bend/0_rotate": 45.0, "bend/slide_x": 0.5})
    assert buffer.data_ptr() == pointer and buffer.tolist() == [45.0, 0.5, 0.0]
    assert set(G.state_dict()) == keys_before   # live controls, not weights
    # A second Bender (a reloaded patch) replaces the first rather than stacking on it.
    Bender(G, parse_bends([{"layer": "b16.conv1", "op": "invert"}]))
    assert not hasattr(module, "livegan_bend_amounts") and not module._forward_hooks
    remove_bends(G)
    assert not any(m._forward_hooks for m in G.modules())


def test_a_bend_on_a_missing_layer_is_one_message_naming_the_layers():
    G = generator("sg2-tiny")
    specs = parse_bends([{"layer": "b64.conv1", "op": "rotate"}])
    with pytest.raises(LatentConfigError) as err:
        check_bends(specs, G)
    message = str(err.value)
    assert "\n" not in message and "'b64.conv1'" in message
    assert "b4.conv1" in message and "b32.torgb" in message
    assert err.value.problems[0][0] == "bends[0].layer"
    with pytest.raises(LatentConfigError, match="32 channels"):
        Bender(G, parse_bends([{"layer": "b8.conv1", "op": "ablate", "channels": [40]}]))


def test_patch_tables_report_every_problem_with_its_key():
    with pytest.raises(LatentConfigError) as err:
        parse_bends([{"layer": "b8.conv1", "op": "twist"},
                     {"layer": "b8.conv1", "op": "erode", "size": 4, "channels": 1.5},
                     {"layer": "b8.conv1", "op": "rotate", "amount": 500, "colour": 1}])
    keys = [key for key, _, _ in err.value.problems]
    assert keys == ["bends[0].op", "bends[1].channels", "bends[1].size", "bends[2].colour",
                    "bends[2].amount"]

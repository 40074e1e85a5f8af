"""StyleGAN2 generator: parity with the official network, training use, live noise control.

The fixtures in tests/fixtures/stylegan/ hold official weights (official names) and the official
outputs for fixed inputs; our plain-PyTorch network must reproduce them in float32.
"""
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from liveGAN.models.networks import ops, stylegan2

FIXTURES = Path(__file__).parent / "fixtures" / "stylegan"
CASES = ["sg2-tiny", "sg2-cond"]
TOL = 1e-4


def load_case(name):
    """(Generator with official weights loaded strictly, expected tensors, config)."""
    config = json.loads((FIXTURES / f"{name}.json").read_text())
    G = stylegan2.Generator(**config["init_kwargs"]).eval()
    G.load_state_dict(load_file(FIXTURES / f"{name}.safetensors"), strict=True)
    return G, load_file(FIXTURES / f"{name}.expected.safetensors"), config


@pytest.fixture(scope="module", params=CASES)
def case(request):
    return load_case(request.param)


def max_err(a, b):
    return (a - b).abs().max().item()


def test_mapping_matches_official(case):
    G, e, config = case
    assert G.num_ws == config["num_ws"]
    with torch.no_grad():
        assert max_err(G.mapping(e["z"], e["c"], truncation_psi=1), e["ws_psi1"]) <= TOL
        assert max_err(G.mapping(e["z"], e["c"], truncation_psi=0.7), e["ws_psi07"]) <= TOL
        ws = G.mapping(e["z"], e["c"], truncation_psi=0.7, truncation_cutoff=4)
        assert max_err(ws, e["ws_psi07_cut4"]) <= TOL


def test_synthesis_and_forward_match_official(case):
    G, e, _ = case
    with torch.no_grad():
        img_const = G.synthesis(e["ws_psi07"], noise_mode="const")
        img_none = G.synthesis(e["ws_psi07"], noise_mode="none")
        img_forward = G(e["z"], e["c"], truncation_psi=0.7, noise_mode="const")
    assert img_const.dtype == torch.float32
    assert max_err(img_const, e["img_const"]) <= TOL
    assert max_err(img_none, e["img_none"]) <= TOL
    assert max_err(img_forward, e["img_forward"]) <= TOL
    # The fixture's noise matters, so a broken noise path could not pass by accident.
    assert max_err(e["img_const"], e["img_none"]) > 1e-3


def test_unfused_modconv_matches_fused(case):
    """The training path (styles on activations, shared weight) computes the same image."""
    G, e, _ = case
    with torch.no_grad():
        fused = G.synthesis(e["ws_psi07"], fused_modconv=True)
        unfused = G.synthesis(e["ws_psi07"], fused_modconv=False)
    assert max_err(fused, unfused) <= TOL


def test_truncation_psi_may_be_a_tensor():
    """A psi held in a tensor (e.g. a CUDA-graph input) truncates exactly like a float."""
    G, e, _ = load_case("sg2-tiny")
    with torch.no_grad():
        ws = G.mapping(e["z"], None, truncation_psi=torch.tensor(0.7), truncation_cutoff=4)
    assert max_err(ws, e["ws_psi07_cut4"]) <= TOL


def test_wrong_ws_shape_is_a_clear_error():
    G, e, _ = load_case("sg2-tiny")
    with pytest.raises(ValueError, match=r"ws must have shape \[N, 8, 32\]"):
        G.synthesis(e["ws_psi07"][:, :5])


def test_unconditional_accepts_none_or_empty_c():
    G, e, _ = load_case("sg2-tiny")
    with torch.no_grad():
        assert torch.equal(G.mapping(e["z"], None), G.mapping(e["z"], torch.empty(2, 0)))


def test_conditional_without_labels_is_a_clear_error():
    G, e, _ = load_case("sg2-cond")
    with pytest.raises(ValueError, match="conditional"):
        G.mapping(e["z"], None)


def test_state_dict_is_official_and_round_trips(case):
    G, e, config = case
    name = "sg2-tiny" if config["init_kwargs"]["c_dim"] == 0 else "sg2-cond"
    official = load_file(FIXTURES / f"{name}.safetensors")
    assert set(G.state_dict()) == set(official)  # runtime buffers stay out
    fresh = stylegan2.Generator(**config["init_kwargs"]).eval()
    fresh.load_state_dict(G.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(fresh(e["z"], e["c"], truncation_psi=0.7), G(e["z"], e["c"],
                                                                          truncation_psi=0.7))


def test_noise_gain_controls_noise_in_place():
    G, e, _ = load_case("sg2-tiny")
    layers = stylegan2.noise_layers(G)
    assert [n for n, _ in layers][:3] == ["synthesis.b4.conv1", "synthesis.b8.conv0",
                                          "synthesis.b8.conv1"]
    assert len(layers) == G.num_ws - 1
    ptrs = [layer.noise_gain.data_ptr() for _, layer in layers]
    with torch.no_grad():
        reference = G.synthesis(e["ws_psi07"], noise_mode="none")
        stylegan2.set_noise_gains(G, [0.0] * len(layers))
        silenced = G.synthesis(e["ws_psi07"], noise_mode="const")
        stylegan2.set_noise_gains(G, [2.0] * len(layers))
        doubled = G.synthesis(e["ws_psi07"], noise_mode="const")
        stylegan2.set_noise_gains(G, [1.0] * len(layers))
        restored = G.synthesis(e["ws_psi07"], noise_mode="const")
    assert torch.equal(silenced, reference)
    assert max_err(doubled, e["img_const"]) > 1e-3
    assert max_err(restored, e["img_const"]) <= TOL
    assert [layer.noise_gain.data_ptr() for _, layer in layers] == ptrs


def test_gradients_reach_every_parameter_and_emas_update():
    G, e, config = load_case("sg2-cond")
    G.train()
    w_avg = G.mapping.w_avg.clone()
    img = G(e["z"], e["c"], update_emas=True, noise_mode="random")
    img.square().mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert not torch.equal(G.mapping.w_avg, w_avg)


def test_gradients_reach_ws_in_eval_mode():
    """Projection into W (optimising ws through a frozen G) runs the fused inference path."""
    G, e, _ = load_case("sg2-tiny")
    ws = e["ws_psi07"].clone().requires_grad_(True)
    G.synthesis(ws, noise_mode="const").square().mean().backward()
    assert ws.grad is not None and torch.isfinite(ws.grad).all() and ws.grad.abs().sum() > 0
    assert G.synthesis.b32.conv0.weight.grad.abs().sum() > 0


def test_bf16_autocast_runs_and_stays_close():
    G, e, _ = load_case("sg2-tiny")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        img = G(e["z"], e["c"], truncation_psi=0.7)
    assert img.shape == e["img_forward"].shape
    rel = ((img.float() - e["img_forward"]).norm() / e["img_forward"].norm()).item()
    print(f"sg2-tiny bf16 autocast relative error {rel:.4f}")
    assert rel < 0.1


def test_style_mix_takes_coarse_and_fine_rows():
    G, e, _ = load_case("sg2-tiny")
    ws_a, ws_b = e["ws_psi07"], e["ws_psi1"]
    mixed = stylegan2.style_mix(ws_a, ws_b, 3)
    assert torch.equal(mixed[:, :3], ws_a[:, :3]) and torch.equal(mixed[:, 3:], ws_b[:, 3:])


# --- low-level ops against a direct transcription of the definition --------------------------

def naive_upfirdn2d(x, f, up, down, pad):
    """Insert zeros, pad (negative crops), convolve with the filter, keep every down-th sample."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h, 1, w, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, pad)
    f2 = f if f.ndim == 2 else torch.outer(f, f)
    weight = f2.flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, weight, groups=c)[:, :, ::down, ::down]


@pytest.mark.parametrize("up,down,pad,taps", [
    (1, 1, [1, 2, 0, 1], 4), (2, 1, [2, 1, 2, 1], 4), (2, 1, [0, 3, -1, 2], 4),
    (1, 2, [1, 1, 2, 0], 4), (2, 1, [5, 4, 6, 5], 12), (1, 2, [0, 0, 0, 0], 12),
    (4, 1, [11, 9, 12, 10], 24), (2, 1, [-1, -2, 0, 0], 8), (2, 2, [3, 2, 1, 4], 6),
])
@pytest.mark.parametrize("separable", [False, True])
def test_upfirdn2d_matches_definition(up, down, pad, taps, separable):
    torch.manual_seed(taps + up)
    x = torch.randn(2, 3, 16, 16)
    f = torch.rand(taps)  # deliberately asymmetric: the flip convention matters
    f = f if separable else torch.outer(f, torch.rand(taps))
    ours = ops.upfirdn2d(x, f, up=up, down=down, padding=pad)
    assert max_err(ours, naive_upfirdn2d(x, f, up, down, pad)) < 1e-5


def test_downsampling_conv_layer_matches_definition():
    """Conv2dLayer(down=2), the discriminator's block: FIR blur, then strided 3x3 conv."""
    torch.manual_seed(0)
    layer = stylegan2.Conv2dLayer(4, 6, kernel_size=3, activation="lrelu", down=2)
    with torch.no_grad():
        layer.bias.normal_()
        x = torch.randn(2, 4, 16, 16)
        blurred = naive_upfirdn2d(x, layer.resample_filter, 1, 1, [2, 2, 2, 2])
        expected = F.conv2d(blurred, layer.weight * layer.weight_gain, stride=2)
        expected = F.leaky_relu(expected + layer.bias[None, :, None, None], 0.2) * 2 ** 0.5
        assert layer(x).shape == (2, 6, 8, 8)
        assert max_err(layer(x), expected) < 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_on_cuda_stays_close_to_fp32():
    config = json.loads((FIXTURES / "sg2-tiny.json").read_text())
    kwargs = {**config["init_kwargs"], "num_fp16_res": 4}
    G = stylegan2.Generator(**kwargs).eval().cuda()
    G.load_state_dict(load_file(FIXTURES / "sg2-tiny.safetensors"), strict=True)
    ws = load_file(FIXTURES / "sg2-tiny.expected.safetensors")["ws_psi07"].cuda()
    with torch.no_grad():
        half = G.synthesis(ws)
        full = G.synthesis(ws, force_fp32=True)
    assert half.dtype == torch.float32
    assert ((half - full).norm() / full.norm()).item() < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_replay_follows_live_noise_gains():
    """Captured once, the graph still follows noise_gain written in place."""
    G, e, _ = load_case("sg2-tiny")
    G = G.cuda()
    ws = e["ws_psi07"].cuda()
    with torch.no_grad():
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            G.synthesis(ws)  # warm-up outside capture, as torch requires
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = G.synthesis(ws, noise_mode="const")
        stylegan2.set_noise_gains(G, [0.0] * len(stylegan2.noise_layers(G)))
        graph.replay()
        silent = out.clone()
        stylegan2.set_noise_gains(G, [1.0] * len(stylegan2.noise_layers(G)))
        graph.replay()
    rel = lambda a, b: ((a.cpu() - b).norm() / b.norm()).item()  # noqa: E731
    assert rel(silent, e["img_none"]) < 1e-2
    assert rel(out, e["img_const"]) < 1e-2

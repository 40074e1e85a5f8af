"""StyleGAN3 (T and R) generator: parity with the official network, input transform, training.

The fixtures in tests/fixtures/stylegan/ hold official weights (official names) and the official
outputs for fixed inputs; our plain-PyTorch network must reproduce them in float32.
"""
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from liveGAN.models.networks import stylegan3

FIXTURES = Path(__file__).parent / "fixtures" / "stylegan"
CASES = ["sg3t-tiny", "sg3r-tiny"]
TOL = 1e-4


def load_case(name):
    """(Generator with official weights loaded strictly, expected tensors, config)."""
    config = json.loads((FIXTURES / f"{name}.json").read_text())
    G = stylegan3.Generator(**config["init_kwargs"]).eval()
    G.load_state_dict(load_file(FIXTURES / f"{name}.safetensors"), strict=True)
    return G, load_file(FIXTURES / f"{name}.expected.safetensors"), config


@pytest.fixture(scope="module", params=CASES)
def case(request):
    return (request.param, *load_case(request.param))


def max_err(a, b):
    return (a - b).abs().max().item()


def test_mapping_matches_official(case):
    _, G, e, config = case
    assert G.num_ws == config["num_ws"]
    with torch.no_grad():
        assert max_err(G.mapping(e["z"], e["c"], truncation_psi=1), e["ws_psi1"]) <= TOL
        assert max_err(G.mapping(e["z"], e["c"], truncation_psi=0.7), e["ws_psi07"]) <= TOL
        ws = G.mapping(e["z"], e["c"], truncation_psi=0.7, truncation_cutoff=4)
        assert max_err(ws, e["ws_psi07_cut4"]) <= TOL


def test_synthesis_and_forward_match_official(case):
    _, G, e, _ = case
    with torch.no_grad():
        img_const = G.synthesis(e["ws_psi07"], noise_mode="const")
        img_none = G.synthesis(e["ws_psi07"], noise_mode="none")
        img_forward = G(e["z"], e["c"], truncation_psi=0.7, noise_mode="const")
    assert img_const.shape == e["img_const"].shape and img_const.dtype == torch.float32
    assert max_err(img_const, e["img_const"]) <= TOL
    assert max_err(img_none, e["img_none"]) <= TOL
    assert max_err(img_forward, e["img_forward"]) <= TOL


def test_input_transform_matches_official_and_is_in_place(case):
    _, G, e, _ = case
    transform = G.synthesis.input.transform
    ptr = transform.data_ptr()
    matrix = stylegan3.make_transform((0.15, -0.1), 20)
    assert max_err(matrix, e["input_transform"]) < 1e-6
    try:
        with torch.no_grad():
            stylegan3.set_input_transform(G, e["input_transform"])
            moved = G.synthesis(e["ws_psi07"])
            stylegan3.set_input_transform(G, torch.eye(3))
            back = G.synthesis(e["ws_psi07"])
    finally:
        stylegan3.set_input_transform(G, torch.eye(3))
    assert max_err(moved, e["img_transformed"]) <= TOL
    assert max_err(e["img_transformed"], e["img_const"]) > 1e-2  # the transform does something
    assert max_err(back, e["img_const"]) <= TOL
    assert G.synthesis.input.transform.data_ptr() == ptr


def test_bad_transform_is_a_clear_error():
    G, _, _ = load_case("sg3t-tiny")
    with pytest.raises(ValueError, match="3x3"):
        stylegan3.set_input_transform(G, torch.eye(2))
    with pytest.raises(ValueError, match="not invertible"):
        stylegan3.set_input_transform(G, torch.zeros(3, 3))
    assert torch.equal(G.synthesis.input.transform, torch.eye(3))  # last good state kept


def test_state_dict_is_official_and_filters_are_designed_like_official(case):
    name, G, e, config = case
    official = load_file(FIXTURES / f"{name}.safetensors")
    assert set(G.state_dict()) == set(official)  # the cached grid stays out
    fresh = stylegan3.Generator(**config["init_kwargs"])
    own = fresh.state_dict()
    for key, value in official.items():
        if key.endswith("_filter"):
            assert own[key].shape == value.shape, key
            assert max_err(own[key], value) < 1e-6, key
    fresh.load_state_dict(G.state_dict(), strict=True)
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(fresh.synthesis(e["ws_psi07"]), G.synthesis(e["ws_psi07"]))


def test_wrong_ws_shape_is_a_clear_error():
    G, e, _ = load_case("sg3t-tiny")
    with pytest.raises(ValueError, match=r"ws must have shape \[N, 16, 32\]"):
        G.synthesis(e["ws_psi07"][:, :, :8])


def test_radial_filters_only_where_official_uses_them():
    G, _, _ = load_case("sg3r-tiny")
    layers = [getattr(G.synthesis, n) for n in G.synthesis.layer_names]
    assert [layer.down_filter.ndim if layer.down_filter is not None else 0
            for layer in layers] == [2] * 12 + [1, 1, 0]


def test_gradients_reach_every_parameter_and_emas_update():
    G, e, _ = load_case("sg3t-tiny")
    G.train()
    w_avg = G.mapping.w_avg.clone()
    ema = G.synthesis.L0_36_32.magnitude_ema.clone()
    img = G(e["z"], e["c"], update_emas=True)
    img.square().mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert G.synthesis.L0_36_32.weight.grad.abs().sum() > 0
    assert G.mapping.fc0.weight.grad.abs().sum() > 0
    assert not torch.equal(G.mapping.w_avg, w_avg)
    assert not torch.equal(G.synthesis.L0_36_32.magnitude_ema, ema)


def test_gradients_reach_ws_in_eval_mode():
    """Projection into W (optimising ws through a frozen G) needs gradients w.r.t. ws."""
    G, e, _ = load_case("sg3r-tiny")
    ws = e["ws_psi07"].clone().requires_grad_(True)
    G.synthesis(ws).square().mean().backward()
    assert ws.grad is not None and torch.isfinite(ws.grad).all() and ws.grad.abs().sum() > 0


@pytest.mark.parametrize("name", CASES)
def test_bf16_autocast_runs_and_stays_close(name):
    G, e, _ = load_case(name)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        img = G(e["z"], e["c"], truncation_psi=0.7)
    assert img.shape == e["img_forward"].shape
    rel = ((img.float() - e["img_forward"]).norm() / e["img_forward"].norm()).item()
    print(f"{name} bf16 autocast relative error {rel:.4f}")
    assert rel < 0.15


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", CASES)
def test_fp16_on_cuda_stays_close_to_fp32(name):
    config = json.loads((FIXTURES / f"{name}.json").read_text())
    G = stylegan3.Generator(**{**config["init_kwargs"], "num_fp16_res": 4}).eval().cuda()
    G.load_state_dict(load_file(FIXTURES / f"{name}.safetensors"), strict=True)
    e = load_file(FIXTURES / f"{name}.expected.safetensors")
    ws = e["ws_psi07"].cuda()
    with torch.no_grad():
        full = G.synthesis(ws, force_fp32=True)
        half = G.synthesis(ws)
    # cuDNN may run float32 convolutions in TF32, so compare relatively.
    assert ((full.cpu() - e["img_const"]).norm() / e["img_const"].norm()).item() < 1e-2
    assert ((half - full).norm() / full.norm()).item() < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_replay_follows_the_live_transform():
    """Captured once, the graph still pans when set_input_transform writes the buffer."""
    G, e, _ = load_case("sg3t-tiny")
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
            out = G.synthesis(ws)
        stylegan3.set_input_transform(G, e["input_transform"])
        graph.replay()
        moved = out.clone()
        stylegan3.set_input_transform(G, torch.eye(3))
        graph.replay()
    rel = lambda a, b: ((a.cpu() - b).norm() / b.norm()).item()  # noqa: E731
    assert rel(moved, e["img_transformed"]) < 1e-2
    assert rel(out, e["img_const"]) < 1e-2

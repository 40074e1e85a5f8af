"""Generator runtime: device choice, precision, parity with the plain and official paths,
RGBA8 conversion, live controls without recapture, use from a worker thread. CUDA-only checks
are skipped without a GPU."""
from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from liveGAN.models.networks import stylegan2, stylegan3
from liveGAN.models.presets import build_preset
from liveGAN.models.runtime import (GeneratorRuntime, compare_to_fp32, exact_float32,
                                    image_to_rgba8, pick_device, resolve_precision)

FIXTURES = Path(__file__).parent / "fixtures" / "stylegan"
CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs CUDA")


def load_fixture(name, device="cpu"):
    config = json.loads((FIXTURES / f"{name}.json").read_text())
    module = stylegan2 if config["architecture"] == "stylegan2" else stylegan3
    G = module.Generator(**config["init_kwargs"]).eval()
    G.load_state_dict(load_file(FIXTURES / f"{name}.safetensors"), strict=True)
    return G.to(device), load_file(FIXTURES / f"{name}.expected.safetensors")


@pytest.fixture(scope="module")
def sg2():
    return build_preset("sg2-tiny", seed=1)


@pytest.fixture(scope="module")
def sg3():
    return build_preset("sg3t-tiny", seed=2, res=16)


# ----------------------------------------------------------------------------- device, precision
def test_pick_device_auto_and_explicit():
    expected = "cuda" if CUDA else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert pick_device("auto").type == expected
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu-please")


@pytest.mark.skipif(CUDA, reason="checks the message on a machine without CUDA")
def test_explicit_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA"):
        pick_device("cuda")


def test_precision_resolution(sg2):
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu, sg2) == "fp32"
    assert resolve_precision("bf16", cpu, sg2) == "bf16"
    for cuda_only in ("official", "fp16"):
        with pytest.raises(ValueError, match="needs a CUDA device"):
            resolve_precision(cuda_only, cpu, sg2)
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("int4", cpu, sg2)
    cuda = torch.device("cuda")
    assert resolve_precision("auto", cuda, sg2) == "official"  # presets keep num_fp16_res 4
    no_fp16 = build_preset("sg2-tiny")
    no_fp16.synthesis.num_fp16_res = 0
    assert resolve_precision("auto", cuda, no_fp16) == "bf16"


# ----------------------------------------------------------------------------- RGBA8 conversion
def test_image_to_rgba8_values_orientation_and_layout():
    img = torch.zeros(1, 3, 2, 3)
    img[0, 0, 0, :] = 1.0  # top row: full red
    img[0, 2, 1, :] = -1.0  # bottom row: no blue
    img[0, 1, :, 0] = 5.0  # clamped
    rgba = image_to_rgba8(img)
    assert rgba.shape == (2, 3, 4) and rgba.dtype == torch.uint8 and rgba.is_contiguous()
    assert (rgba[0, :, 0] == 255).all() and (rgba[1, :, 0] == 128).all()
    assert (rgba[1, :, 2] == 0).all() and (rgba[0, :, 2] == 128).all()
    assert (rgba[:, 0, 1] == 255).all()
    assert (rgba[..., 3] == 255).all()
    grey = image_to_rgba8(torch.full((1, 1, 2, 2), -0.5))
    assert (grey[..., :3] == 64).all() and (grey[..., 3] == 255).all()
    with pytest.raises(ValueError, match="one image"):
        image_to_rgba8(torch.zeros(2, 3, 4, 4))


# ----------------------------------------------------------------------------- parity
@pytest.mark.parametrize("name", ["sg2-tiny", "sg3t-tiny", "sg2-cond"])
def test_fp32_runtime_reproduces_official_outputs(name):
    G, e = load_fixture(name)
    runtime = GeneratorRuntime(G, "cpu", precision="fp32")
    c = e["c"] if e["c"].numel() else None
    ws = runtime.mapping(e["z"], c, truncation_psi=0.7)
    assert (ws - e["ws_psi07"]).abs().max() <= 1e-4
    img = runtime.synthesis(e["ws_psi07"], noise_mode="const")
    assert (img - e["img_const"]).abs().max() <= 1e-4
    cut = runtime.mapping(e["z"], c, truncation_psi=0.7, truncation_cutoff=4)
    assert (cut - e["ws_psi07_cut4"]).abs().max() <= 1e-4


def test_conditional_model_needs_labels():
    G, e = load_fixture("sg2-cond")
    runtime = GeneratorRuntime(G, "cpu", precision="fp32")
    with pytest.raises(ValueError, match="conditional"):
        runtime.mapping(e["z"][:1])


@pytest.mark.parametrize("psi, cutoff", [(0.7, None), (0.5, 3), (1.0, None), (0.2, 0), (1.5, 99)])
def test_graph_mapping_formula_equals_official_truncation(sg2, sg3, psi, cutoff):
    """The CUDA graph captures truncation as lerp with per-row weights; it must equal mapping."""
    for G in (sg2, sg3):
        runtime = GeneratorRuntime(G, "cpu", precision="fp32")
        z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(5))
        rows = torch.ones(G.num_ws, 1)
        rows[:G.num_ws if cutoff is None else cutoff] = psi
        expected = G.mapping(z, None, truncation_psi=psi, truncation_cutoff=cutoff)
        assert torch.equal(runtime.mapping_static(z, None, rows), expected)


def test_frame_is_the_plain_path_in_fp32(sg2):
    runtime = GeneratorRuntime(sg2, "cpu", precision="fp32", graph="off")
    z = torch.randn(1, sg2.z_dim, generator=torch.Generator().manual_seed(3))
    frame = runtime.frame(z, truncation_psi=0.6)
    with torch.no_grad():
        reference = sg2.synthesis(sg2.mapping(z, None, truncation_psi=0.6), force_fp32=True)
    assert frame.shape == (sg2.img_resolution, sg2.img_resolution, 4)
    assert torch.equal(frame, image_to_rgba8(reference))
    assert runtime.graph_active is False and runtime.precision == "fp32"
    assert compare_to_fp32(sg2, runtime, n=2) == {"max_abs": 0.0, "rel_err": 0.0, "n": 2}


@pytest.mark.parametrize("which", ["sg2", "sg3"])
def test_bf16_error_is_reported_and_reasonable(which, sg2, sg3):
    G = sg2 if which == "sg2" else sg3
    runtime = GeneratorRuntime(G, "cpu", precision="bf16")
    result = compare_to_fp32(G, runtime, n=2)
    assert 0 < result["rel_err"] < 0.1, result
    assert 0 < result["max_abs"] < 0.5, result
    assert torch.isfinite(runtime.synthesis(runtime.mapping(torch.randn(1, G.z_dim)))).all()


def test_bad_inputs_are_refused(sg2):
    runtime = GeneratorRuntime(sg2, "cpu")
    with pytest.raises(ValueError, match="ws must be"):
        runtime.synthesis(torch.zeros(1, sg2.num_ws + 1, sg2.w_dim))
    with pytest.raises(ValueError, match="noise_mode"):
        runtime.synthesis(torch.zeros(1, sg2.num_ws, sg2.w_dim), noise_mode="loud")
    with pytest.raises(ValueError, match="graph mode"):
        GeneratorRuntime(sg2, "cpu", graph="sometimes")


# ----------------------------------------------------------------------------- live controls
def test_in_place_controls_reach_the_output(sg3):
    fixture, e = load_fixture("sg2-tiny")
    runtime_fix = GeneratorRuntime(fixture, "cpu", precision="fp32")
    before = runtime_fix.synthesis(e["ws_psi07"]).clone()
    stylegan2.set_noise_gains(fixture, [0.0] * len(stylegan2.noise_layers(fixture)))
    silent = runtime_fix.synthesis(e["ws_psi07"]).clone()
    assert (silent - e["img_none"]).abs().max() <= 1e-4  # gain 0 == no noise
    assert (before - silent).abs().max() > 1e-3
    runtime3 = GeneratorRuntime(sg3, "cpu", precision="fp32")
    ws = runtime3.mapping(torch.randn(1, sg3.z_dim))
    plain = runtime3.synthesis(ws).clone()
    stylegan3.set_input_transform(sg3, stylegan3.make_transform((0.1, 0.0), 15.0))
    try:
        moved = runtime3.synthesis(ws).clone()
    finally:
        stylegan3.set_input_transform(sg3, torch.eye(3))
    assert (plain - moved).abs().max() > 1e-3


# ----------------------------------------------------------------------------- threads
def test_worker_thread_hands_finished_frames_to_another_thread(sg2):
    runtime = GeneratorRuntime(sg2, "cpu", precision="fp32")
    zs = torch.randn(3, sg2.z_dim, generator=torch.Generator().manual_seed(9))
    handoff: queue.Queue = queue.Queue()

    def worker():
        for i in range(3):
            handoff.put(runtime.frame(zs[i:i + 1]))

    thread = threading.Thread(target=worker)
    thread.start()
    frames = [handoff.get(timeout=30) for _ in range(3)]
    thread.join(30)
    for i, frame in enumerate(frames):
        assert torch.equal(frame, runtime.frame(zs[i:i + 1]))
    assert not torch.equal(frames[0], frames[1])  # each frame is its own tensor


# ----------------------------------------------------------------------------- CUDA only
@needs_cuda
@pytest.mark.parametrize("name", ["sg2-tiny", "sg3t-tiny", "sg3r-tiny"])
def test_cuda_graph_matches_eager_and_never_recaptures(name):
    G = build_preset(name, device="cuda", seed=4)
    if name.startswith("sg2"):  # random init has zero noise strength: make the gains matter
        for _, layer in stylegan2.noise_layers(G):
            layer.noise_strength.data.fill_(0.5)
    eager = GeneratorRuntime(G, "cuda", precision="fp32", graph="off")
    graphed = GeneratorRuntime(G, "cuda", precision="fp32", graph="on")
    assert graphed.graph_active
    gen = torch.Generator().manual_seed(0)
    with exact_float32():
        _play_four_frames(G, name, eager, graphed, gen)
    assert graphed.graph_active and len(graphed._graphs) == 2  # one mapping, one synthesis


def _play_four_frames(G, name, eager, graphed, gen):
    """Change z, psi, cutoff and the live controls every frame; graph and eager must agree."""
    for step in range(4):
        z = torch.randn(1, G.z_dim, generator=gen)
        psi, cutoff = (0.5 + 0.1 * step), (None if step % 2 else 4)
        if name.startswith("sg2"):
            stylegan2.set_noise_gains(G, [0.5 * step] * len(stylegan2.noise_layers(G)))
        else:
            stylegan3.set_input_transform(G, stylegan3.make_transform((0.05 * step, 0), 7 * step))
        a = eager.frame(z, truncation_psi=psi, truncation_cutoff=cutoff)
        b = graphed.frame(z, truncation_psi=psi, truncation_cutoff=cutoff)
        assert (a.int() - b.int()).abs().max() <= 1
        # The control alone (same z, psi) must change the replayed frame: buffers are live.
        if name.startswith("sg2"):
            stylegan2.set_noise_gains(G, [0.5 * step + 1.0] * len(stylegan2.noise_layers(G)))
        else:
            stylegan3.set_input_transform(G, stylegan3.make_transform((0.1, 0.05), 30 + step))
        moved = graphed.frame(z, truncation_psi=psi, truncation_cutoff=cutoff)
        assert (moved.int() - b.int()).abs().max() > 1
        assert graphed.ready_event is not None and graphed.ready_event.query()


@needs_cuda
@pytest.mark.parametrize("precision", ["official", "bf16", "fp16"])
def test_cuda_reduced_precision_is_close(precision):
    G = build_preset("sg2-tiny", device="cuda", seed=4)
    runtime = GeneratorRuntime(G, "cuda", precision=precision)
    result = compare_to_fp32(G, runtime, n=2)
    assert result["rel_err"] < 0.1, result


# ----------------------------------------------------------------------------- torch.compile
def test_compiled_synthesis_matches_official_and_follows_live_controls():
    """The opt-in compile path (inductor on this CPU): official outputs, in-place noise gains
    still reach the picture, and changing them does not recompile."""
    import torch._dynamo

    G, e = load_fixture("sg2-tiny")
    logged = []
    runtime = GeneratorRuntime(G, "cpu", precision="fp32", compile=True, log=logged.append)
    assert runtime.compiled
    torch._dynamo.utils.counters.clear()
    img = runtime.synthesis(e["ws_psi07"]).clone()
    assert runtime.compiled, logged   # still compiled: the compile worked here
    assert (img - e["img_const"]).abs().max() <= 1e-4
    frames_compiled = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    assert frames_compiled >= 1
    layers = stylegan2.noise_layers(G)
    try:
        stylegan2.set_noise_gains(G, [0.0] * len(layers))
        silent = runtime.synthesis(e["ws_psi07"]).clone()
        stylegan2.set_noise_gains(G, [3.0] * len(layers))
        loud = runtime.synthesis(e["ws_psi07"]).clone()
    finally:
        stylegan2.set_noise_gains(G, [1.0] * len(layers))
    assert (silent - e["img_none"]).abs().max() <= 1e-4
    assert (loud - img).abs().max() > 1e-3
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == frames_compiled
    assert logged == []


def test_patch_compile_option_compiles_at_load_time():
    """`[model] compile = true`: the scene loader compiles before the first live frame."""
    import torch._dynamo

    from liveGAN.patch import ModelSpec
    from liveGAN.show.scene import load_bundle

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    bundle = load_bundle(ModelSpec(preset="sg2-tiny", compile=True), "cpu")
    assert bundle.runtime.compiled
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1   # done while loading
    frame = bundle.runtime.frame(torch.randn(1, bundle.z_dim))
    assert frame.dtype == torch.uint8 and frame.shape[-1] == 4

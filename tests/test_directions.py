"""Latent directions: GANSpace and SeFa, their files, cache, background job and command."""
from __future__ import annotations

import hashlib
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from liveGAN.cli import main
from liveGAN.latent import LatentConfigError
from liveGAN.latent import directions as dirs
from liveGAN.latent.directions import (DirectionSet, DirectionSpec, Directions, direction_sets,
                                       ganspace, parse_direction_specs, sefa)
from liveGAN.models import load_generator

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stylegan"


def fixture(case):
    return load_generator(FIXTURES / f"{case}.safetensors")


def light_generator():
    from liveGAN.models.networks.light import Generator

    torch.manual_seed(0)
    return Generator(z_dim=16, w_dim=16, img_resolution=16, channel_base=128,
                     channel_max=16).eval().requires_grad_(False)


def generator(case):
    return light_generator() if case == "light" else fixture(case)


@pytest.mark.parametrize("case", ["sg2-tiny", "sg3t-tiny", "light"])
def test_directions_are_orthonormal(case):
    G = generator(case)
    for found in (ganspace(G, 5, samples=4000), sefa(G, 5)):
        gram = found.vectors @ found.vectors.T
        assert np.allclose(gram, np.eye(5), atol=1e-5)
        assert found.vectors.shape == (5, G.w_dim) and (found.stds > 0).all()
        assert found.rows == (0, G.num_ws) and found.num_ws == G.num_ws
    spread = ganspace(G, 5, samples=4000).stds
    assert list(spread) == sorted(spread, reverse=True)


@torch.no_grad()
def test_ganspace_finds_the_principal_axes_of_w():
    G = fixture("sg2-tiny")
    found = ganspace(G, 3, samples=20_000, seed=1)
    # Fresh samples, another generator, numpy's SVD: the same leading axes and spreads.
    z = torch.randn(20_000, G.z_dim, generator=torch.Generator().manual_seed(99))
    w = G.mapping(z, None)[:, 0].double().numpy()
    w -= w.mean(axis=0)
    _, singular, axes = np.linalg.svd(w, full_matrices=False)
    spreads = singular / np.sqrt(len(w))
    for k in range(3):
        assert abs(float(axes[k] @ found.vectors[k])) > 0.95
        assert found.stds[k] == pytest.approx(spreads[k], rel=0.05)


def test_sefa_maximises_the_change_in_the_chosen_layers_styles():
    G = fixture("sg2-tiny")
    found = sefa(G, 2, "0:3")
    # Rows 0..2 are read by the convs at 4² and 8²; a row-normalised stack of their affine
    # weights changes most along its top right singular vector.
    names = ["b4.conv1", "b8.conv0", "b8.conv1"]
    stack = np.concatenate([dict(G.synthesis.named_modules())[n].affine.weight.numpy()
                            for n in names])
    stack /= np.linalg.norm(stack, axis=1, keepdims=True)
    _, _, axes = np.linalg.svd(stack)
    assert abs(float(axes[0] @ found.vectors[0])) > 0.999
    assert found.rows == (0, 3) and found.info["layers_used"] == ",".join(names)
    assert np.linalg.norm(stack @ found.vectors[0]) > np.linalg.norm(stack @ found.vectors[1])
    with pytest.raises(LatentConfigError, match="no modulated conv"):
        sefa(G, 2, "7:8")   # only a toRGB reads the last row


@torch.no_grad()
def test_moving_along_a_direction_changes_the_picture_smoothly_and_monotonically():
    G = fixture("sg2-tiny")
    found = sefa(G, 3)
    live = DirectionSet(DirectionSpec(method="sefa"), 3, found.rows, "sefa", found)
    ws = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(4)), None,
                   truncation_psi=0.7)
    assert live.edit(ws, {}) is ws
    base = G.synthesis(ws)
    amounts = np.linspace(0.0, 3.0, 13)
    images = [G.synthesis(live.edit(ws, {"direction/1": float(a)})) for a in amounts]
    distance = [float((img - base).abs().mean()) for img in images]
    assert distance[0] == 0 and all(b > a for a, b in zip(distance, distance[1:]))
    steps = [float((b - a).abs().mean()) for a, b in zip(images, images[1:])]
    assert max(steps) < 3 * np.median(steps)
    # The amount is in sigmas along the direction, on the set's rows only.
    moved = live.edit(ws, {"direction/1": 2.0})
    expected = ws + 2.0 * found.stds[1] * torch.from_numpy(found.vectors[1])
    assert torch.allclose(moved, expected, atol=1e-5)
    coarse = DirectionSet(DirectionSpec(method="sefa"), 3, (0, 3), "sefa", found)
    moved = coarse.edit(ws, {"direction/1": 2.0})
    assert torch.allclose(moved[:, :3], expected[:, :3], atol=1e-5)
    assert torch.equal(moved[:, 3:], ws[:, 3:])


def test_a_file_keeps_what_it_was_made_for(tmp_path):
    G = fixture("sg2-tiny")
    found = sefa(G, 4, "0:4", model_hash="ab" * 32)
    path = found.save(tmp_path / "d.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["d.safetensors"]   # no temp file left
    back = Directions.load(path)
    assert np.array_equal(back.vectors, found.vectors) and np.array_equal(back.stds, found.stds)
    assert (back.method, back.rows, back.model_hash, back.w_dim, back.num_ws) == \
        ("sefa", (0, 4), "ab" * 32, 32, 8)
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    assert {"method": "sefa", "layers": "0:4", "w_dim": "32", "num_ws": "8"}.items() <= meta.items()


def test_a_file_made_for_another_model_is_one_message(tmp_path):
    G = fixture("sg2-tiny")
    sefa(G, 4, model_hash="ab" * 32).save(tmp_path / "d.safetensors")
    spec = parse_direction_specs([{"file": "d.safetensors"}])
    sets, _ = direction_sets(spec, G, "ab" * 32, tmp_path)
    assert [p.key for p in sets[0].params()] == [f"direction/{k}" for k in range(4)]
    with pytest.raises(LatentConfigError) as err:
        direction_sets(spec, G, "cd" * 32, tmp_path)
    assert "model_hash abababab" in str(err.value) and "directions[0]" in str(err.value)
    with pytest.raises(LatentConfigError) as err:
        direction_sets(spec, fixture("sg2-cond"), "", tmp_path)
    assert "num_ws 8 there, 6 here" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(LatentConfigError, match="w_dim 32 there, 16 here"):
        Directions.load(tmp_path / "d.safetensors").check(light_generator())
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(LatentConfigError, match="junk.safetensors"):
        direction_sets(parse_direction_specs([{"file": "junk.safetensors"}]), G, "", tmp_path)


def test_patch_entries_report_each_problem():
    with pytest.raises(LatentConfigError) as err:
        parse_direction_specs([{"method": "pca"}, {"file": "a", "method": "sefa", "name": "b"},
                               {"method": "sefa", "count": 0, "layers": "3:1", "name": "c"}])
    keys = [key for key, _, _ in err.value.problems]
    assert keys == ["directions[0].method", "directions[1]", "directions[2].count",
                    "directions[2].layers"]
    specs = parse_direction_specs([{"method": "sefa"}, {"method": "ganspace", "name": "g"}])
    assert [s.prefix for s in specs] == ["", "g_"]
    with pytest.raises(LatentConfigError, match="name"):
        parse_direction_specs([{"method": "sefa"}, {"method": "ganspace"}])


def test_ganspace_is_cached_by_the_model_files_content(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = FIXTURES / "sg2-tiny.safetensors"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert dirs.model_hash(path) == digest
    G = load_generator(path)
    first = dirs.cached_ganspace(G, digest, 3, samples=2000)
    cached = list((tmp_path / "livegan" / "directions").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith(digest)
    monkeypatch.setattr(dirs, "ganspace", lambda *a, **k: pytest.fail("computed again"))
    again = dirs.cached_ganspace(G, digest, 3, samples=2000)
    assert np.array_equal(first.vectors, again.vectors)


def test_ganspace_runs_off_the_frame_thread_and_arrives_later(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    G = fixture("sg2-tiny")
    release = threading.Event()
    threads = []
    real = dirs.ganspace

    def slow(*args, **kwargs):
        threads.append(threading.current_thread().name)
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(dirs, "ganspace", slow)
    specs = parse_direction_specs([{"method": "ganspace", "count": 2, "samples": 1000}])
    sets, jobs = direction_sets(specs, G, "ef" * 32)
    ws = G.mapping(torch.randn(1, G.z_dim), None)
    assert len(jobs) == 1 and not sets[0].ready
    assert sets[0].edit(ws, {"direction/0": 2.0}) is ws   # plays on untouched meanwhile
    release.set()
    jobs[0].join(30)
    assert jobs[0].error is None and sets[0].ready and threads == ["liveGAN-directions"]
    assert not torch.equal(sets[0].edit(ws, {"direction/0": 2.0}), ws)
    # The next load of the same model finds it in the cache: no job.
    assert direction_sets(specs, G, "ef" * 32)[1] == []


def custom_generator():
    from liveGAN.models.networks.custom import CustomGenerator

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Unflatten(1, (4, 4, 4)),
                              torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(4, 3, 3, padding=1),
                              torch.nn.Tanh())
    return CustomGenerator(net, 8, (-1.0, 1.0)).eval()


def test_a_custom_generator_gets_ganspace_in_z():
    G = custom_generator()
    found = ganspace(G, 3, samples=1000)
    assert found.space == "z" and found.vectors.shape == (3, 8)
    assert np.allclose(found.vectors @ found.vectors.T, np.eye(3), atol=1e-5)
    live = DirectionSet(DirectionSpec(method="ganspace"), 3, found.rows, "ganspace", found)
    z = torch.randn(1, 1, 8)
    with torch.no_grad():
        assert not torch.equal(G.synthesis(live.edit(z, {"direction/0": 2.0})), G.synthesis(z))
    with pytest.raises(LatentConfigError, match="GANSpace in z"):
        sefa(G, 2)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_command_writes_directions_and_a_contact_sheet(tmp_path, capsys):
    out = tmp_path / "tiny.safetensors"
    model = FIXTURES / "sg2-tiny.safetensors"
    assert main(["directions", str(model), "--method", "sefa", "--count", "3",
                 "--layers", "0:4", "--out", str(out), "--tile", "24"]) == 0
    found = Directions.load(out)
    assert found.method == "sefa" and found.rows == (0, 4) and found.count == 3
    assert found.model_hash == hashlib.sha256(model.read_bytes()).hexdigest()
    assert png_size(out.with_suffix(".png")) == (7 * 24, 3 * 24)
    assert "direction/0..direction/2" in capsys.readouterr().out
    assert main(["directions", str(model), "--layers", "9:12", "--out", str(out)]) == 1
    assert "selects no rows" in capsys.readouterr().err

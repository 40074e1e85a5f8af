"""Hostile model files (issue 9, point 5): metadata that claims a network far bigger than the
tensors in the file, and pickles that ask for a huge allocation in a few bytes, fail with one
line naming the file before they take memory. Each file is loaded in a fresh process whose
peak memory is read before and after (the budget is 100 MB over the loaded code)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from conftest import FIXTURES as ALL_FIXTURES
from liveGAN.models import ModelLoadError, load_generator

FIXTURES = ALL_FIXTURES / "stylegan"

BASE = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 256, "img_channels": 3}

# Loads each file given, after a real model (so the code is loaded and warm), and prints what
# each load did: the error, seconds, and how far the process's peak memory rose (MB).
PROBE = textwrap.dedent("""
    import json, resource, sys, time
    from liveGAN.models import ModelLoadError, load_generator
    load_generator(sys.argv[1])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = []
    for path in sys.argv[2:]:
        started = time.perf_counter()
        try:
            load_generator(path)
            error = None
        except ModelLoadError as err:
            error = str(err)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        results.append({"path": path, "error": error, "seconds": time.perf_counter() - started,
                        "extra_mb": (peak - base) / 1024})
    print(json.dumps(results))
""")


def native(path: Path, kwargs: dict, architecture: str = "stylegan2") -> Path:
    """A 200-byte native file: one tiny tensor under a header describing `kwargs`."""
    from safetensors.torch import save_file

    header = {"format": 1, "architecture": architecture, "init_kwargs": kwargs, "num_ws": 0}
    save_file({"x": torch.zeros(1)}, str(path), metadata={"livegan": json.dumps(header)})
    return path


def raw_pickle(path: Path, body: bytes) -> Path:
    path.write_bytes(b"\x80\x02" + body + b".")
    return path


def long1(n: int) -> bytes:
    data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def probe(files: list[Path]) -> list[dict]:
    result = subprocess.run([sys.executable, "-c", PROBE, str(FIXTURES / "sg2-tiny.safetensors"),
                             *map(str, files)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_metadata_bigger_than_the_tensors_fails_small_and_names_the_file(tmp_path):
    files = [
        native(tmp_path / "res16384.safetensors", {**BASE, "img_resolution": 16384}),
        native(tmp_path / "zdim.safetensors", {**BASE, "z_dim": 10**6}),
        native(tmp_path / "channels.safetensors", {**BASE, "img_resolution": 1024,
                                                   "channel_base": 2048 * 1024,
                                                   "channel_max": 2048}),
        native(tmp_path / "layers.safetensors", {**BASE, "z_dim": 1, "w_dim": 1,
                                                 "mapping_kwargs": {"num_layers": 10**7}}),
        native(tmp_path / "sg3.safetensors", {**BASE, "img_resolution": 16384}, "stylegan3"),
        native(tmp_path / "light.safetensors", {"z_dim": 10**6, "img_resolution": 4096},
               "light"),
    ]
    results = probe(files)
    for file, result in zip(files, results):
        assert result["error"] is not None, result
        assert result["error"].startswith(f"{file}:"), result
        assert "bigger than the tensors in the file" in result["error"], result
        assert len(result["error"].splitlines()) == 1
    assert max(r["extra_mb"] for r in results) <= 100, results


def test_a_pickle_asking_for_gigabytes_in_a_few_bytes_allocates_nothing(tmp_path):
    files = [
        # bytearray(3_000_000_000)
        raw_pickle(tmp_path / "bytearray.pkl",
                   b"cbuiltins\nbytearray\n" + long1(3_000_000_000) + b"\x85R"),
        # numpy's _reconstruct(ndarray, (60000, 60000), 'b'): the array before its data
        raw_pickle(tmp_path / "reconstruct.pkl",
                   b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
                   + long1(60000) + long1(60000) + b"\x86U\x01b\x87R"),
        # numpy.ndarray((60000, 60000)) called directly
        raw_pickle(tmp_path / "ndarray.pkl",
                   b"cnumpy\nndarray\n" + long1(60000) + long1(60000) + b"\x86\x85R"),
        # a byte string that claims 3 GB in an 30-byte file
        raw_pickle(tmp_path / "binbytes.pkl", b"\x8e" + (3_000_000_000).to_bytes(8, "little")),
    ]
    results = probe(files)
    for file, result in zip(files, results):
        assert result["error"] is not None and result["error"].startswith(f"{file}:"), result
    assert "refused bytearray(3000000000)" in results[0]["error"]
    assert "refused an array of shape (60000, 60000)" in results[1]["error"]
    assert max(r["extra_mb"] for r in results) <= 100, results


def test_a_stylegan_pickle_whose_constructor_arguments_lie(tmp_path):
    from test_loaders import official_pickle

    G = load_generator(FIXTURES / "sg2-tiny.safetensors")
    kwargs = {**G.init_kwargs, "img_resolution": 16384}
    data = official_pickle({"G_ema": G}, "# networks_stylegan2.py\n", init={id(G): ((), kwargs)})
    path = tmp_path / "lying.pkl"
    path.write_bytes(data)
    result = probe([path])[0]
    assert result["error"].startswith(f"{path}:") and "bigger than the tensors" in \
        result["error"], result
    assert result["extra_mb"] <= 100, result


def test_a_rosinality_checkpoint_with_inconsistent_mapping_layers(tmp_path):
    from test_loaders import rosinality_checkpoint

    data, _ = rosinality_checkpoint("sg2-tiny")
    # A 1 x 1 000 000 first layer would make the w_avg estimate 4096 x 10^6 floats (16 GB).
    data["g_ema"]["style.1.weight"] = torch.zeros(1, 10**6)
    path = tmp_path / "wide.pt"
    torch.save(data, path)
    with pytest.raises(ModelLoadError, match=r"wide\.pt: .*style\.1\.weight"):
        load_generator(path)


def test_real_models_still_load_under_the_budget(tmp_path):
    from liveGAN.resources import default_patch

    model = default_patch().parent / "models" / "default.safetensors"
    for path in (FIXTURES / "sg2-tiny.safetensors", FIXTURES / "sg3r-tiny.safetensors", model):
        G = load_generator(path)
        assert G.img_resolution > 0

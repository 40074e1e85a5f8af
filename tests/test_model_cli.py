"""`livegan info` and `livegan convert`, run through the real command line."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from liveGAN.cli import main
from liveGAN.models import load_generator
from rosinality_export import official_to_rosinality

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stylegan"


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv("LIVEGAN_DEBUG", raising=False)


def fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def assert_one_line_error(capsys, code: int, *needles: str) -> str:
    captured = capsys.readouterr()
    assert code == 1
    err = captured.err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_info_describes_a_native_model(capsys):
    code = main(["info", str(FIXTURES / "sg2-cond.safetensors")])
    out = fields(capsys.readouterr().out)
    G = load_generator(FIXTURES / "sg2-cond.safetensors")
    assert code == 0
    assert out["format"] == "native" and out["architecture"] == "stylegan2"
    assert out["resolution"] == "16x16, 3 channels"
    assert (out["z_dim"], out["w_dim"], out["num_ws"], out["classes"]) == ("16", "16", "6", "5")
    assert out["parameters"] == f"{sum(p.numel() for p in G.parameters()):,}"


def test_convert_rosinality_to_native_and_back_through_info(tmp_path, capsys):
    G = load_generator(FIXTURES / "sg2-tiny.safetensors")
    source = tmp_path / "ffhq.pt"
    torch.save({"g_ema": official_to_rosinality(G.state_dict(), G.init_kwargs),
                "latent_avg": G.mapping.w_avg.clone()}, source)
    out = tmp_path / "ffhq.safetensors"
    assert main(["convert", str(source), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ffhq.pt", "ffhq.safetensors"]
    assert main(["info", str(out)]) == 0
    info = fields(capsys.readouterr().out)
    assert info["format"] == "native" and info["source_format"] == "rosinality"
    assert info["num_ws"] == "8"
    e = load_file(str(FIXTURES / "sg2-tiny.expected.safetensors"))
    N = load_generator(out)
    assert (N.synthesis(e["ws_psi07"]) - e["img_const"]).abs().max() < 1e-4
    assert (N.mapping(e["z"], None, truncation_psi=0.7) - e["ws_psi07"]).abs().max() < 1e-4


def test_convert_native_sg3_round_trips_exactly(tmp_path, capsys):
    out = tmp_path / "sg3.safetensors"
    assert main(["convert", str(FIXTURES / "sg3r-tiny.safetensors"), str(out)]) == 0
    a, b = load_generator(FIXTURES / "sg3r-tiny.safetensors"), load_generator(out)
    ws = torch.randn(1, a.num_ws, a.w_dim)
    assert torch.equal(a.synthesis(ws), b.synthesis(ws))
    assert oct(out.stat().st_mode & 0o777) == "0o644"


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("command", ["info", "convert"])
def test_hostile_pickle_is_one_line_exit_1_and_never_runs(tmp_path, capsys, command):
    marker = tmp_path / "pwned"
    hostile = tmp_path / "model.pkl"
    hostile.write_bytes(pickle.dumps({"G_ema": Payload(marker)}))
    out = tmp_path / "out.safetensors"
    argv = [command, str(hostile)] + ([str(out)] if command == "convert" else [])
    assert_one_line_error(capsys, main(argv), "model.pkl", "refused global posix.system")
    assert not marker.exists() and not out.exists()


@pytest.mark.parametrize("name,data", [("cut.pkl", b"\x80\x04\x95\x10\x00\x00"),
                                       ("noise.pt", os.urandom(512)),
                                       ("empty.safetensors", b""),
                                       ("cut.safetensors", None)])
def test_malformed_files_are_one_line_exit_1(tmp_path, capsys, name, data):
    if data is None:
        data = (FIXTURES / "sg2-tiny.safetensors").read_bytes()[:300]
    path = tmp_path / name
    path.write_bytes(data)
    assert_one_line_error(capsys, main(["info", str(path)]), name)
    assert_one_line_error(capsys, main(["convert", str(path), str(tmp_path / "o.safetensors")]),
                          name)
    assert not (tmp_path / "o.safetensors").exists()


def test_convert_refuses_other_output_types_and_missing_inputs(tmp_path, capsys):
    assert_one_line_error(capsys, main(["convert", str(FIXTURES / "sg2-tiny.safetensors"),
                                        str(tmp_path / "out.pkl")]), "out.pkl", ".safetensors")
    assert_one_line_error(capsys, main(["info", str(tmp_path / "nope.pkl")]),
                          "nope.pkl", "no such model file")
    assert list(tmp_path.iterdir()) == []


def test_info_of_a_custom_generator_and_convert_writes_it(tmp_path, capsys, monkeypatch):
    (tmp_path / "cli_custom_gen.py").write_text(
        "import torch\n"
        "def make():\n"
        "    return torch.nn.Sequential(torch.nn.Linear(4, 48), torch.nn.Unflatten(1, (3, 4, 4)))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    net = importlib.import_module("cli_custom_gen").make()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    custom = ["--custom", "cli_custom_gen:make", "--z-dim", "4", "--output-range", "0", "255"]
    assert main(["info", str(tmp_path / "w.pt"), *custom]) == 0
    info = fields(capsys.readouterr().out)
    assert info["format"] == "custom" and info["resolution"] == "4x4, 3 channels"
    assert info["num_ws"] == "1" and info["z_dim"] == "4" and info["z_shape"] == "[4]"
    assert main(["convert", str(tmp_path / "w.pt"), str(tmp_path / "o.safetensors"),
                 *custom]) == 0
    capsys.readouterr()
    # The native file holds the network's own weight names and the recorded output range.
    from safetensors.torch import load_file

    assert set(load_file(str(tmp_path / "o.safetensors"))) == set(net.state_dict())
    assert main(["info", str(tmp_path / "o.safetensors"), "--custom", "cli_custom_gen:make"]) == 0
    info = fields(capsys.readouterr().out)
    assert info["z_dim"] == "4" and info["output_range"] == "[0.0, 255.0]"
    assert_one_line_error(capsys, main(["info", str(tmp_path / "w.pt"), "--custom",
                                        "cli_custom_gen:make"]), "needs its z size",
                          "first layer '0' (Linear) takes z as [N, 4]")

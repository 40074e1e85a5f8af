"""Bring your own generator: a DCGAN-style module beside a patch plays with no glue code.

The user's code lives in a temporary folder (beside a patch file), is imported only because the
custom spec names it, and its weights sit in a torch zip checkpoint nested the way the PyTorch
DCGAN tutorial saves them. Expectations come from the module's own forward pass.
"""
from __future__ import annotations

import sys

import pytest
import torch
from safetensors.torch import save_file

from liveGAN.cli import main
from liveGAN.models import ModelLoadError, load_generator

# A user's own generator, as the DCGAN tutorial writes it: z [N, 100, 1, 1] -> 3x32x32 in [-1, 1].
FACEGEN = '''
import torch
from torch import nn

NZ, NGF = 100, 8


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF), nn.ReLU(True),
            nn.ConvTranspose2d(NGF, 3, 4, 2, 1, bias=False),
            nn.Tanh())

    def forward(self, z):
        if z.dim() != 4:
            raise ValueError(f"expected z [N, {NZ}, 1, 1], got {list(z.shape)}")
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(8, 1, 16, 1, 0), nn.Sigmoid())

    def forward(self, x):
        return self.main(x)
'''


@pytest.fixture
def facegen(tmp_path):
    """A patch folder holding the user's module `facegen_user.py` and a training checkpoint.

    Yields (folder, the module's own trained-looking generator, the checkpoint path). The
    module is not importable until liveGAN is told the folder (python_path); the fixture undoes
    what the load added to sys.path and sys.modules.
    """
    folder = tmp_path / "show"
    folder.mkdir()
    (folder / "facegen_user.py").write_text(FACEGEN)
    (folder / "show.toml").write_text(
        '[model]\npath = "dcgan.pt"\ncustom = "facegen_user:Generator"\n')
    path_before = list(sys.path)
    sys.path.insert(0, str(folder))
    import facegen_user

    sys.path[:] = path_before
    torch.manual_seed(3)
    netG, netD = facegen_user.Generator(), facegen_user.Discriminator()
    # Non-trivial batch-norm statistics, as after training.
    with torch.no_grad():
        for m in netG.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    del sys.modules["facegen_user"]
    ckpt = folder / "dcgan.pt"
    # The tutorial's convention: each network's state dict under its own key, plus extras.
    torch.save({"netG": netG.state_dict(), "netD": netD.state_dict(), "epoch": 5,
                "optimizerG": torch.optim.Adam(netG.parameters()).state_dict()}, ckpt)
    netG.eval()
    yield folder, netG, ckpt
    sys.path[:] = path_before
    sys.modules.pop("facegen_user", None)


def test_dcgan_checkpoint_plays_like_its_own_forward(facegen):
    folder, netG, ckpt = facegen
    assert ckpt.read_bytes()[:4] == b"PK\x03\x04"   # a torch zip checkpoint
    spec = {"factory": "facegen_user:Generator", "z_dim": 100, "output_range": (-1.0, 1.0),
            "python_path": [folder]}
    G = load_generator(ckpt, custom=spec)            # no weights_key, no z_shape
    assert G.z_shape == (100, 1, 1)                  # read from the ConvTranspose2d first layer
    assert (G.z_dim, G.num_ws, G.img_channels, G.img_size) == (100, 1, 3, (32, 32))
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = netG(z.view(4, 100, 1, 1))
        got = G.synthesis(G.mapping(z, None), noise_mode="const")
    assert torch.allclose(got, expected, atol=1e-6)
    assert float(expected.std()) > 0.01               # a real picture, not a constant


def test_weights_key_z_shape_and_output_range_options(facegen, tmp_path):
    folder, netG, ckpt = facegen
    # A module in a sub-folder named by python_path; weights nested two levels, an explicit key.
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "facegen_lib.py").write_text(FACEGEN)
    nested = tmp_path / "nested.pt"
    torch.save({"models": {"generator_state_dict": netG.state_dict()}, "step": 1000}, nested)
    spec = {"factory": "facegen_lib:Generator", "z_dim": None, "z_shape": [100, 1, 1],
            "weights_key": "models/generator_state_dict", "output_range": (-2.0, 2.0),
            "python_path": [lib]}
    try:
        G = load_generator(nested, custom=spec)
        z = torch.randn(2, 100)
        with torch.no_grad():
            assert torch.allclose(G(z), netG(z.view(2, 100, 1, 1)) / 2, atol=1e-6)
        assert G.z_dim == 100
        # Without the key the one state dict inside is found all the same.
        G2 = load_generator(nested, custom={**spec, "weights_key": None})
        with torch.no_grad():
            assert torch.equal(G2(z), G(z))
    finally:
        sys.modules.pop("facegen_lib", None)


def test_ambiguous_or_wrong_checkpoints_name_what_they_hold(facegen, tmp_path):
    folder, netG, ckpt = facegen
    spec = {"factory": "facegen_user:Generator", "z_dim": 100, "python_path": [folder]}
    # First, before anything imported it: the module is not found outside the named folders.
    with pytest.raises(ModelLoadError, match=r"cannot import .*'facegen_user'.*python_path"):
        load_generator(ckpt, custom={**spec, "python_path": [tmp_path / "empty"]})
    twins = tmp_path / "twins.pt"
    torch.save({"G_a": netG.state_dict(), "G_b": netG.state_dict()}, twins)
    with pytest.raises(ModelLoadError, match=r"twins\.pt: 2 state dicts .*several fit.*'G_a' "
                                             r"\(\d+ tensors: main\.0\.weight.*'G_b'.*weights_key"):
        load_generator(twins, custom=spec)
    with pytest.raises(ModelLoadError, match=r"dcgan\.pt: weights_key 'gen' not found; the "
                                             r"checkpoint's keys: netG, netD, epoch, optimizerG"):
        load_generator(ckpt, custom={**spec, "weights_key": "gen"})
    with pytest.raises(ModelLoadError, match="weights_key 'epoch' holds no dict of tensors"):
        load_generator(ckpt, custom={**spec, "weights_key": "epoch"})
    with pytest.raises(ModelLoadError, match=r"z_dim 64 .*first layer 'main\.0' "
                                             r"\(ConvTranspose2d\) takes z as \[N, 100, 1, 1\]"):
        load_generator(ckpt, custom={**spec, "z_dim": 64})
    with pytest.raises(ModelLoadError, match=r"needs its z size.*\[N, 100, 1, 1\]"):
        load_generator(ckpt, custom={**spec, "z_dim": None})
    # A DataParallel-style prefix is taken off when that makes the names fit.
    wrapped = tmp_path / "dp.safetensors"
    save_file({f"module.{k}": v.contiguous() for k, v in netG.state_dict().items()}, str(wrapped))
    G = load_generator(wrapped, custom=spec)
    z = torch.randn(1, 100)
    with torch.no_grad():
        assert torch.allclose(G(z), netG(z.view(1, 100, 1, 1)), atol=1e-6)


def test_convert_records_the_factory_and_loading_still_needs_it(facegen, tmp_path, capsys):
    folder, netG, ckpt = facegen
    out = tmp_path / "face.safetensors"
    assert main(["convert", str(ckpt), str(out), "--custom", "facegen_user:Generator",
                 "--z-dim", "100", "--python-path", str(folder)]) == 0
    assert "custom = \"facegen_user:Generator\"" in capsys.readouterr().out
    # Described from the record alone, without importing any code.
    sys.modules.pop("facegen_user", None)
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "custom:facegen_user:Generator" in info and "[100, 1, 1]" in info
    assert "facegen_user" not in sys.modules
    # Loading without naming the code is refused with what to add; another factory too.
    with pytest.raises(ModelLoadError, match=r"face\.safetensors: a custom generator .*add "
                                             r"\[model\] custom = \"facegen_user:Generator\""):
        load_generator(out)
    assert "facegen_user" not in sys.modules
    with pytest.raises(ModelLoadError, match=r"converted from custom factory "
                                             r"facegen_user:Generator, but the patch names "
                                             r"facegen_user:Discriminator"):
        load_generator(out, custom={"factory": "facegen_user:Discriminator", "z_dim": 100,
                                    "python_path": [folder]})
    # Named, it plays with the recorded z shape and range: the same pictures as the checkpoint.
    G = load_generator(out, custom={"factory": "facegen_user:Generator", "z_dim": None,
                                    "python_path": [folder]})
    z = torch.randn(3, 100)
    with torch.no_grad():
        assert torch.allclose(G(z), netG(z.view(3, 100, 1, 1)), atol=1e-6)


def test_a_patch_beside_its_module_renders_with_no_pythonpath(facegen, tmp_path):
    """The user's whole path: module + checkpoint + patch in one folder, `livegan render` from
    another folder, no PYTHONPATH, no weights_key, no z_shape."""
    import os
    import subprocess

    import av
    import numpy as np

    folder, netG, ckpt = facegen
    patch = folder / "show.toml"
    patch.write_text('[model]\npath = "dcgan.pt"\ncustom = "facegen_user:Generator"\n'
                     'z_dim = 100\n\n[output]\nsize = [64, 64]\nfps = 10\n')
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = tmp_path / "face.mp4"
    result = subprocess.run([sys.executable, "-m", "liveGAN.cli", "render", str(patch),
                             "--out", str(out), "--frames", "4"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    with av.open(str(out)) as video:
        frames = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape == (64, 64, 3)
    # A picture, not a flat colour (this untrained net is low in contrast), and it moves.
    assert float(np.std(frames[0])) > 1
    assert float(np.abs(frames[0].astype(int) - frames[-1]).mean()) > 0.1

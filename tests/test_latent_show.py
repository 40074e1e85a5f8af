"""Latent navigation played through the show: directions, style mixing, bends, keyframes and a
model swap, on the official-architecture fixtures (each part's own maths is tested in
test_directions, test_mixing, test_bending, test_keyframes and test_blending)."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import FIXTURES, wait_for
from liveGAN.patch import PatchError
from liveGAN.show.options import RunOptions
from liveGAN.show.show import Show

MODEL = FIXTURES / "stylegan" / "sg2-tiny.safetensors"

NAVIGATION = """
[[directions]]
method = "sefa"
count = 4

[mixing]

[[bends]]
layer = "b16.conv1"
op = "rotate"
name = "spin"
"""


def patch_text(extra: str = "", params: str = "", walk: str = 'walk = "noise"') -> str:
    return textwrap.dedent(f"""
        [model]
        path = "{MODEL}"
        [latent]
        {walk}
        seed = 3
        speed = 0.5
        [output]
        size = [32, 32]
        fps = 30
        [osc]
        enabled = false
        """) + extra + (f"\n[params]\n{params}\n" if params else "")


def render(tmp_path: Path, name: str, text: str, frames: int = 4) -> list[np.ndarray]:
    """The frames of an offline render, recorded losslessly (x264 CRF 0)."""
    patch = tmp_path / f"{name}.toml"
    out = tmp_path / f"{name}.mkv"
    out.unlink(missing_ok=True)
    patch.write_text(text + f'\n[[outputs]]\nkind = "record"\npath = "{out}"\nquality = 0\n')
    Show(patch, RunOptions(headless=True, offline=True, frames=frames, watch=False),
         print_fn=lambda m: None).run()
    with av.open(str(out)) as container:
        return [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]


def test_every_edit_at_zero_plays_the_plain_frames_exactly(tmp_path):
    plain = render(tmp_path, "plain", patch_text())
    navigated = render(tmp_path, "nav", patch_text(NAVIGATION))
    assert plain[0].std() > 5
    assert all(np.array_equal(a, b) for a, b in zip(plain, navigated))


@pytest.mark.parametrize("param", ['"direction/0" = 3.0', '"mix/coarse" = 1.0',
                                   '"bend/spin" = 90.0'])
def test_each_edit_changes_the_picture(tmp_path, param):
    plain = render(tmp_path, "plain", patch_text(NAVIGATION))
    edited = render(tmp_path, "edited", patch_text(NAVIGATION, param))
    assert np.abs(plain[-1] - edited[-1]).mean() > 1.0


def test_a_bend_on_a_layer_the_network_lacks_is_one_clear_problem(tmp_path):
    patch = tmp_path / "bad.toml"
    patch.write_text(patch_text(NAVIGATION.replace("b16.conv1", "b999.conv7")))
    with pytest.raises(Exception) as info:
        Show(patch, RunOptions(headless=True, offline=True, frames=1, watch=False),
             print_fn=lambda m: None)
    assert "b999.conv7" in str(info.value) and "b16.conv1" in str(info.value)


def test_kept_keyframes_play_as_a_deterministic_loop(tmp_path, show_thread):
    live = tmp_path / "live.toml"
    live.write_text(patch_text())
    show = Show(live, RunOptions(headless=True, watch=False), print_fn=lambda m: None)
    with show_thread(show):
        for number, seed in ((1, 3), (2, 11)):
            show.inbox.post("/livegan/latent/seed", float(seed))
            assert wait_for(lambda: show.latent.seed == seed)
            frame = show.clock.frame
            assert wait_for(lambda: show.clock.frame > frame + 3)
            show.inbox.post("/livegan/latent/keep", float(number))
            assert wait_for(lambda: number in show.bundle.keyframes.numbers())
    store = show.bundle.keyframes
    store.flush()
    assert store.path.is_file() and store.numbers() == [1, 2]
    # Another patch beside it walks through them: 2 keyframes, 1 beat each, looped (2 beats at
    # 120 bpm = 1 s = 30 frames), the same frames every time, the loop closing on itself.
    shutil.copy(store.path, tmp_path / "walk.keyframes.safetensors")
    walk = 'walk = "keyframes"\nkeyframes = [1, 2]\nbeats = 1\nloop = true\nspeed = 0.0'
    text = patch_text(walk=walk).replace("speed = 0.5\n", "")
    first = render(tmp_path, "walk", text, frames=31)
    again = render(tmp_path, "walk", text, frames=31)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    # One period later the same picture; half-way, the other keyframe.
    assert np.array_equal(first[0], first[30])
    assert np.abs(first[0] - first[15]).mean() > 5


def test_a_model_swap_crossfades_and_the_show_never_stops(tmp_path, show_thread):
    other = tmp_path / "other.safetensors"
    shutil.copy(FIXTURES / "stylegan" / "sg2-cond.safetensors", other)
    shutil.copy(FIXTURES / "stylegan" / "sg2-cond.json", tmp_path / "other.json")
    patch = tmp_path / "swap.toml"
    # A long fade, so a test thread starved by a loaded machine still sees it under way.
    patch.write_text(patch_text().replace("[model]\n", "[model]\ncrossfade = 4.0\n"))
    messages = []
    show = Show(patch, RunOptions(headless=True), print_fn=messages.append)
    with show_thread(show):
        first = show.bundle
        patch.write_text(patch.read_text().replace(str(MODEL), str(other)))
        assert wait_for(lambda: show.bundle is not first, timeout=120), messages
        assert show.generation.crossfade is not None          # both models play while it fades
        frame = show.clock.frame
        assert wait_for(lambda: show.generation.crossfade is None, timeout=120)
        assert show.clock.frame > frame             # frames kept coming through the swap
        assert show.bundle.G.c_dim > 0 and "model/class" in show.registry


def test_directions_for_another_model_are_refused_with_what_does_not_match(tmp_path):
    from liveGAN.latent.directions import sefa
    from liveGAN.models import load_generator

    G = load_generator(FIXTURES / "stylegan" / "sg3t-tiny.safetensors")
    sefa(G, 2).save(tmp_path / "sg3.safetensors")
    patch = tmp_path / "p.toml"
    patch.write_text(patch_text('[[directions]]\nfile = "sg3.safetensors"\n'))
    with pytest.raises(Exception) as info:
        Show(patch, RunOptions(headless=True, offline=True, frames=1, watch=False),
             print_fn=lambda m: None)
    assert "sg3.safetensors" in str(info.value)
    assert not isinstance(info.value, PatchError) or info.value.problems

"""`livegan devices` on real parts: two displays on the Xorg dummy server, the PulseAudio null
sink's monitor as an audio input, a virtual MIDI port on the dummy JACK server (scripts/test.sh
starts both); and on a machine with none of them, one line each and no crash.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import wait_for


def devices(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "liveGAN.cli", "devices", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def pulse_running() -> bool:
    try:
        return subprocess.run(["pactl", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_lists_displays_with_names_and_places(two_displays):
    run = devices(two_displays.env, "--json")
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)["displays"]["items"]
    assert [(d["index"], d["name"], d["x"], d["y"], d["width"], d["height"]) for d in found] \
        == [(0, "DUMMY0", 0, 0, 640, 480), (1, "DUMMY1", 640, 0, 640, 480)]
    table = devices(two_displays.env).stdout
    assert "  1  DUMMY1" in table and "640x480 at +640+0" in table


def test_lists_the_pulseaudio_input():
    if not pulse_running():
        pytest.skip("no PulseAudio server (scripts/test.sh starts one with a null sink)")
    run = devices(dict(os.environ), "--json")
    assert run.returncode == 0, run.stderr
    inputs = json.loads(run.stdout)["audio_inputs"]["items"]
    names = {i["name"] for i in inputs}
    assert names & {"pulse", "default"}, inputs
    assert all(i["channels"] >= 1 and i["sample_rate"] > 0 for i in inputs)


def test_lists_a_virtual_midi_port_on_jack():
    mido = pytest.importorskip("mido")
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
    port, problem = None, None

    def opened() -> bool:   # scripts/test.sh starts JACK just before the tests: give it time
        nonlocal port, problem
        try:
            port = backend.open_input("liveGAN devices test", virtual=True)
        except Exception as err:  # noqa: BLE001
            problem = err
        return port is not None

    if not wait_for(opened, timeout=10, interval=0.5):
        pytest.skip(f"no JACK server to make a MIDI port on ({problem}); scripts/test.sh "
                    "starts one")
    try:
        run = devices(dict(os.environ), "--json")
    finally:
        port.close()
    assert run.returncode == 0, run.stderr
    ports = json.loads(run.stdout)["MIDI_ports"]["items"]
    assert any("liveGAN devices test" in p["name"] and p["api"] == "UNIX_JACK"
               and p["direction"] == "out" for p in ports), ports


def test_nothing_there_is_one_line_each_and_no_crash(tmp_path):
    # NDI that fails to import, no display server, no sound server, no JACK server
    fake = tmp_path / "NDIlib"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('libndi.so.6: cannot open')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(SDL_VIDEODRIVER="x11", PULSE_SERVER="unix:/nonexistent", PYTHONPATH=str(tmp_path),
               JACK_DEFAULT_SERVER="no-such-server", XDG_RUNTIME_DIR=str(tmp_path))
    run = devices(env)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    lines = run.stdout.splitlines()
    sections = ["displays:", "audio inputs:", "MIDI ports:", "NDI sources:", "virtual cameras:"]
    assert [line for line in lines if not line.startswith(" ")] == sections
    text = run.stdout
    assert "displays:\n  none:" in text
    assert "NDI sources:\n  NDI is not installed here (pip install 'livegan[ndi]'): " \
           "libndi.so.6: cannot open" in text
    assert "v4l2loopback" in text or "pyvirtualcam" in text
    as_json = json.loads(devices(env, "--json").stdout)
    assert set(as_json) == {"displays", "audio_inputs", "MIDI_ports", "NDI_sources",
                            "virtual_cameras"}
    assert as_json["displays"]["items"] == [] and as_json["displays"]["note"]

"""The controller files in controllers/: the Pure Data patch sends to and hears from a running
show (`pd -nogui`), the Max patch is valid JSON that talks to the right port, and every address
the how-tos name exists."""
from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading

import pytest

from conftest import ROOT, wait_for

CONTROLLERS = ROOT / "controllers"

PATCH = """
[model]
preset = "stand-in"
[output]
size = [64, 48]
fps = 30
[osc]
port = 0
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pure_data_patch_sends_and_receives(tmp_path, show_thread):
    if shutil.which("pd") is None:
        pytest.skip("Pure Data is not installed (apt puredata-core)")
    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show
    from liveGAN.standin import stand_in_bundle

    path = tmp_path / "patch.toml"
    path.write_text(PATCH)
    show = Show(path, RunOptions(headless=True, watch=False), print_fn=lambda m: None,
                bundle=stand_in_bundle(16))
    with show_thread(show):
        port, listen = show.source("OscSource").port, free_udp_port()
        seed = show.values.typed("latent/seed")
        pd = subprocess.Popen(
            ["pd", "-nogui", "-noaudio", "-nomidi", "-stderr",
             "-open", str(CONTROLLERS / "liveGAN.pd"),
             "-send", f"livegan-connect list localhost {port}",
             "-send", f"livegan-listen {listen}",
             "-send", "livegan-fade 0.25",
             "-send", "livegan-speed 2",
             "-send", "livegan-next bang"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        printed: list[str] = []
        reader = threading.Thread(target=lambda: printed.extend(pd.stderr), daemon=True)
        reader.start()
        try:
            assert wait_for(lambda: show.values.target["output/fade"] == 0.25)
            assert wait_for(lambda: show.values.target["latent/speed"] == 2.0)
            assert wait_for(lambda: show.values.typed("latent/seed") == seed + 1)
            # What liveGAN sends back is printed by Pd: the fade it set, and the status.
            assert wait_for(lambda: any("livegan: output fade 0.25" in l for l in printed))
            assert wait_for(lambda: any("livegan: status fps" in l for l in printed))
        finally:
            pd.terminate()
            pd.wait(10)
    assert not any(l.startswith("error") or "Error" in l for l in printed), printed


def test_max_patch_is_valid_json_and_talks_to_livegan():
    patch = json.loads((CONTROLLERS / "liveGAN.maxpat").read_text())
    boxes = [b["box"] for b in patch["patcher"]["boxes"]]
    texts = [b.get("text", "") for b in boxes]
    assert "udpsend 127.0.0.1 9000" in texts
    assert "udpreceive 9001" in texts
    ids = {b["id"] for b in boxes}
    for line in patch["patcher"]["lines"]:
        assert line["patchline"]["source"][0] in ids
        assert line["patchline"]["destination"][0] in ids


def test_every_address_the_controller_files_name_exists():
    from liveGAN.patch import load_patch
    from liveGAN.show.scene import patch_registry

    # The template patch's registry: the show's own parameters and the grade effect's.
    registry, _ = patch_registry(load_patch(ROOT / "patches" / "template.toml"),
                                 load_model=False)
    known = {p.address for p in registry} | {
        "/livegan/get", "/livegan/subscribe", "/livegan/unsubscribe", "/livegan/probe",
        "/livegan/probe/ack", "/livegan/scene/save", "/livegan/scene/recall",
        "/livegan/scene/next", "/livegan/scene/prev", "/livegan/learn", "/livegan/toggle",
        "/livegan/quit", "/livegan/learn/cancel", "/livegan/clock/source"}
    for file in sorted(CONTROLLERS.iterdir()):
        text = file.read_text()
        found = set(re.findall(r"/livegan(?:/[a-z_0-9]+)+(?![/a-z_0-9*])", text))
        pd_style = {"/" + m.replace(" ", "/") for m in
                    re.findall(r"oscformat (?:-f \w+ )?(livegan(?: [a-z_]+)+)", text)}
        unknown = {a for a in found | pd_style if a not in known
                   and not a.startswith("/livegan/status/")}
        assert not unknown, f"{file.name} names addresses liveGAN does not have: {unknown}"

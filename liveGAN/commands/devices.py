"""`livegan devices`: what this machine offers a show: displays, audio inputs, MIDI ports, NDI
sources, and whether a virtual camera (and Syphon, Spout) can be used.

Each kind is asked on its own; one that can't be asked here (no display server, no PortAudio,
no JACK, NDI not installed, no v4l2loopback) is one line saying why, and the rest still lists.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

from liveGAN.log import quiet_stderr

NDI_WAIT_MS = 1500   # how long to listen for NDI sources announcing themselves


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="as JSON")
    parser.add_argument("--ndi-ip", action="append", default=[], metavar="ADDRESS",
                        help="also ask this machine for NDI sources (no mDNS needed; repeat "
                             "for more)")


@dataclass
class Section:
    """One kind of device: what was found, or why nothing could be asked."""

    title: str
    items: list[dict] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict:
        return {"items": self.items, "note": self.note}


def displays() -> Section:
    section = Section("displays")
    try:
        from liveGAN.sinks.displays import list_displays

        found = list_displays()
    except Exception as err:  # noqa: BLE001 - no display server is a normal answer
        section.note = f"none: {str(err) or type(err).__name__} (no display server here?)"
        return section
    section.items = [d.as_dict() for d in found]
    if not found:
        section.note = "none connected"
    return section


def audio_inputs() -> Section:
    section = Section("audio inputs")
    try:
        with quiet_stderr():
            import sounddevice

            devices = sounddevice.query_devices()
            apis = sounddevice.query_hostapis()
            default_input = sounddevice.default.device[0]
    except Exception as err:  # noqa: BLE001 - OSError without libportaudio, PortAudioError
        section.note = f"cannot list them: {type(err).__name__}: {err}"
        return section
    for device in devices:
        if device["max_input_channels"] > 0:
            section.items.append({
                "index": device["index"], "name": device["name"],
                "channels": device["max_input_channels"],
                "sample_rate": device["default_samplerate"],
                "api": apis[device["hostapi"]]["name"],
                "default": device["index"] == default_input})
    if not section.items:
        section.note = "none (no sound card or sound server?)"
    return section


def _midi_api_names() -> list[tuple[str, str]]:
    """(mido backend, name) for each MIDI API compiled into python-rtmidi, JACK first."""
    import rtmidi

    names = {rtmidi.API_UNIX_JACK: "UNIX_JACK", rtmidi.API_LINUX_ALSA: "LINUX_ALSA",
             rtmidi.API_MACOSX_CORE: "MACOSX_CORE", rtmidi.API_WINDOWS_MM: "WINDOWS_MM"}
    compiled = rtmidi.get_compiled_api()
    ordered = sorted(compiled, key=lambda api: api != rtmidi.API_UNIX_JACK)
    return [(f"mido.backends.rtmidi/{names[api]}", names[api]) for api in ordered
            if api in names]


def midi_ports() -> Section:
    section = Section("MIDI ports")
    try:
        import mido

        apis = _midi_api_names()
    except Exception as err:  # noqa: BLE001
        section.note = f"cannot list them: {type(err).__name__}: {err}"
        return section
    problems = []
    for backend_name, api in apis:
        try:
            # JACK's client library prints to stderr and may try to start a server: neither.
            os.environ.setdefault("JACK_NO_START_SERVER", "1")
            with quiet_stderr():
                backend = mido.Backend(backend_name, load=True)
                inputs, outputs = backend.get_input_names(), backend.get_output_names()
        except Exception as err:  # noqa: BLE001 - no JACK server, no ALSA sequencer
            problems.append(f"{api} unavailable: {str(err).strip() or type(err).__name__}")
            continue
        section.items += [{"api": api, "direction": "in", "name": n} for n in inputs]
        section.items += [{"api": api, "direction": "out", "name": n} for n in outputs]
    if not section.items:
        section.note = "none found" + (f" ({'; '.join(problems)})" if problems else "")
    return section


def ndi_sources(extra_ips: list[str]) -> Section:
    from liveGAN.sinks.ndi import find_sources, ndi_problem

    section = Section("NDI sources")
    problem = ndi_problem()
    if problem:
        section.note = problem
        return section
    try:
        section.items = [{"name": name, "address": address}
                         for name, address in find_sources(extra_ips, NDI_WAIT_MS)]
    except Exception as err:  # noqa: BLE001
        section.note = f"cannot look for them: {type(err).__name__}: {err}"
        return section
    if not section.items:
        avahi = os.path.exists("/run/avahi-daemon/socket") or sys.platform != "linux"
        section.note = "none seen" + ("" if avahi else
                                      " (on Linux NDI discovery needs avahi-daemon running; "
                                      "--ndi-ip ADDRESS asks a machine directly)")
    return section


def virtual_cameras() -> Section:
    from liveGAN.sinks.vcam import camera_status

    section = Section("virtual cameras")
    section.items, section.note = camera_status()
    return section


def gather(extra_ips: list[str]) -> list[Section]:
    """Every section, each asked on its own."""
    return [displays(), audio_inputs(), midi_ports(), ndi_sources(extra_ips),
            virtual_cameras()]


def _line(title: str, item: dict) -> str:
    if title == "displays":
        return (f"{item['index']:>3}  {item['name']:<24} {item['width']}x{item['height']} "
                f"at +{item['x']}+{item['y']}")
    if title == "audio inputs":
        star = "*" if item["default"] else " "
        return (f"{item['index']:>3}{star} {item['name']:<32} {item['channels']} ch "
                f"{item['sample_rate']:.0f} Hz  [{item['api']}]")
    if title == "MIDI ports":
        return f"  {item['direction']:<3}  {item['name']:<32} [{item['api']}]"
    if title == "NDI sources":
        return f"  {item['name']:<40} {item['address']}"
    return "  " + "  ".join(f"{k}: {v}" for k, v in item.items())


def run(args: argparse.Namespace) -> int:
    sections = gather(args.ndi_ip)
    if args.json:
        import json

        print(json.dumps({s.title.replace(" ", "_"): s.as_dict() for s in sections},
                         indent=2, default=str))
        return 0
    for section in sections:
        print(f"{section.title}:")
        for item in section.items:
            print(" " + _line(section.title, item))
        if section.note:
            print(f"  {section.note}")
    return 0

"""Sinks: everything that consumes the show's frames (see `liveGAN.plugins` for the protocol).

Place in the data flow: the show's view -> **sinks** -> a window or projector (`window.py`), a
video file (`record.py`), other programs. Each sink is opened with the output size and frame
rate, handed every presented frame, and closed at the end; the built-in ones are entry points
in the `livegan.sinks` group, like any third-party sink.
"""

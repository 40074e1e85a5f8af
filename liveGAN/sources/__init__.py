"""Sources: everything that produces control (see `liveGAN.plugins` for the protocol).

Place in the data flow: OSC (`osc.py`), the keyboard (`keys.py`), later MIDI, audio, tempo ->
**sources** -> `post(address, *values)` into the show's inbox. A source never touches parameter
values, GL or the model; the built-in ones are entry points in the `livegan.sources` group,
like any third-party source.
"""

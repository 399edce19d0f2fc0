"""SpatialScaper-method synthesis of stereo SELD clips (rooms, sources, scenes, convolution, stereo).

Entry points: :func:`seldlib.synth.rooms.simulate_rooms`, :func:`seldlib.synth.rooms.default_room_specs`,
:func:`seldlib.synth.rooms.load_sofa`, :func:`seldlib.synth.dataset.generate_split`,
:class:`seldlib.synth.sources.ProceduralBank`, :class:`seldlib.synth.sources.FolderBank`.
Submodules are imported lazily by the caller (``from seldlib.synth.dataset import generate_split``).
"""

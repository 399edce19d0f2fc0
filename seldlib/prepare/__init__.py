"""Raw downloads -> what the synthesiser reads, for ``synth.source: fsd50k`` (docs/real-data.md).

* :mod:`seldlib.prepare.fsd50k`, :mod:`seldlib.prepare.fma`, :mod:`seldlib.prepare.convert`: the DCASE2022
  FSD50K selection and FMA-small music as a class-folder tree of 24-kHz WAVs
  (:func:`seldlib.prepare.convert.arrange_sources`);
* :mod:`seldlib.prepare.tau_srir`: the TAU-SRIR DB rooms as SOFA files with their TAU-SNoise ambience
  (:func:`seldlib.prepare.tau_srir.convert_tau`).

Both read the archives straight from the download cache (:func:`seldlib.download.read_fetched`).
"""

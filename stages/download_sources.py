"""Stage: fetch the raw data of the FSD50K synthetic split into the download cache (docs/real-data.md).

    python -m stages.download_sources --dataset fsd50k --params synth.source synth.fsd50k.base_url
    python -m stages.download_sources --dataset fma --params synth.source synth.fsd50k.fma_url synth.fsd50k.fma_sha1
    python -m stages.download_sources --dataset tau_srir --params synth.source synth.fsd50k.base_url

``fsd50k``: the FSD50K dev and eval audio (Zenodo 4060432) and the DCASE2022 selection list
``FSD50K_selected.txt`` (Zenodo 6406873); ``fma``: ``fma_metadata.zip`` and ``fma_small.zip`` from the
FMA host, checked against the SHA-1s the FMA README publishes; ``tau_srir``: the TAU-SRIR DB and
TAU-SNoise DB (Zenodo 6408611). Everything is verified and kept in ``data/.downloads/<name>/``; the
output ``data/downloads/<dataset>.json`` records what is there. With ``synth.source: procedural``
nothing is fetched and the record says so (no network needed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run

# data set -> (download cache, record files) of each Zenodo record it needs
RECORDS = {
    "fsd50k": (("fsd50k", ("FSD50K.dev_audio.zip", "FSD50K.eval_audio.zip")),
               ("fsd50k_selection", ("FSD50K_selected.txt",))),
    "tau_srir": (("tau_srir", ("TAU-SRIR_DB.zip", "TAU-SNoise_DB.zip")),),
}
FMA_FILES = {"metadata": "fma_metadata.zip", "small": "fma_small.zip"}  # synth.fsd50k.fma_sha1 keys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, choices=[*RECORDS, "fma"])
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys DVC tracks for this stage")
    ap.add_argument("--downloads", default="data/.downloads", type=Path, help="the download cache")
    ap.add_argument("--out", type=Path, help="default: data/downloads/<dataset>.json")
    args = ap.parse_args(argv)
    out = args.out or Path("data/downloads") / f"{args.dataset}.json"

    from seldlib.download import DownloadCache, RemoteFile, fetch_files, fetch_record, write_fetched

    p = read_params(args.params)
    if p["synth.source"] != "fsd50k":
        write_fetched(out, None)
        print(f"{args.dataset}: not used (synth.source: {p['synth.source']}) -> {out}")
        return 0
    if args.dataset == "fma":
        url = p["synth.fsd50k.fma_url"].rstrip("/")
        sha1 = p["synth.fsd50k.fma_sha1"]
        files = [RemoteFile(key, None, "", f"{url}/{key}", sha1[name]) for name, key in FMA_FILES.items()]
        cache = DownloadCache(args.downloads / "fma", "fma", None)
        fetch_files(cache, files)
        fetched = [(cache, files)]
    else:
        fetched = [fetch_record(name, keys, args.downloads / name, p["synth.fsd50k.base_url"])
                   for name, keys in RECORDS[args.dataset]]  # fmt: skip
    write_fetched(out, fetched)
    print(f"{args.dataset}: {sum(len(f) for _, f in fetched)} verified files in {args.downloads} -> {out}")
    return 0


if __name__ == "__main__":
    run(main)

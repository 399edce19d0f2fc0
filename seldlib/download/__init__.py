"""Verified downloads of the real data sets from Zenodo: resumable transfers, MD5 checks, safe extraction.

Public API (see each module): :func:`fetch_record_files`, :func:`download_file`, :func:`safe_extract`,
:func:`open_zip` (split ``.z01``… archives included), :func:`download_dataset` (through the download cache
:class:`DownloadCache`, docs/real-data.md), :func:`fetch_record` / :func:`fetch_files` (into the cache only)
with the record of what was fetched (:func:`write_fetched`, :func:`read_fetched`); CLI ``python -m seldlib.download``.
"""

from seldlib.download.cache import CACHE_MANIFEST_NAME, DownloadCache
from seldlib.download.datasets import (
    DATASETS,
    MANIFEST_NAME,
    ArchiveSpec,
    DatasetSpec,
    default_download_dir,
    download_dataset,
    fetch_files,
    fetch_record,
    main,
)
from seldlib.download.fetched import read_fetched, write_fetched
from seldlib.download.extract import safe_extract
from seldlib.download.splitzip import open_zip, split_parts
from seldlib.download.transfer import NetworkError, download_file, file_digest, file_md5, parse_checksum
from seldlib.download.zenodo import ZENODO, RemoteFile, fetch_record_files

__all__ = [
    "CACHE_MANIFEST_NAME",
    "DATASETS",
    "MANIFEST_NAME",
    "ZENODO",
    "ArchiveSpec",
    "DatasetSpec",
    "DownloadCache",
    "NetworkError",
    "RemoteFile",
    "default_download_dir",
    "download_dataset",
    "download_file",
    "fetch_files",
    "fetch_record",
    "fetch_record_files",
    "file_digest",
    "file_md5",
    "main",
    "open_zip",
    "parse_checksum",
    "read_fetched",
    "safe_extract",
    "split_parts",
    "write_fetched",
]

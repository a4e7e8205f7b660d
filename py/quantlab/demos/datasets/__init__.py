"""Data loaders, one per data set, all resolving files the same way (see resolver)."""

from .base import Dataset
from .resolver import ENV_VAR, DataFile, cache_dir, locate, payload_sha256, resolve, search_dirs

__all__ = [
    "Dataset",
    "DataFile",
    "ENV_VAR",
    "cache_dir",
    "locate",
    "payload_sha256",
    "resolve",
    "search_dirs",
]

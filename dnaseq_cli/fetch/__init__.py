"""``dnaseq fetch``: named resources (genomes, Genomic Benchmarks datasets, hub checkpoints) and
plain URLs, downloaded with resume and checksums into one cache folder.

:mod:`catalogue` names things, :mod:`download` moves bytes safely, :mod:`cache` decides where they
go, :mod:`genome` and :mod:`genomic_benchmarks` turn downloads into files readers use, :mod:`hub`
wraps the Hugging Face client, and :mod:`fetcher` ties them together for the CLI.
"""

from dnaseq_cli.fetch.download import FetchError
from dnaseq_cli.fetch.fetcher import FetchOptions, FetchResult, fetch

__all__ = ["FetchError", "FetchOptions", "FetchResult", "fetch"]

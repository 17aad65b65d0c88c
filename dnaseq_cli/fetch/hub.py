"""Hugging Face hub checkpoints through ``huggingface_hub`` (an optional dependency).

The hub client already does resumable, verified, cached downloads and knows the hub's auth and
offline conventions, so it is used as is: ``HF_HUB_OFFLINE=1`` serves only what is cached and
fails clearly otherwise, ``HF_TOKEN`` authenticates, and ``--mirror`` becomes the hub endpoint
(``HF_ENDPOINT``), which is how hub mirrors are addressed.
"""

from __future__ import annotations

import os
from pathlib import Path

from dnaseq_cli.errors import InputError
from dnaseq_cli.fetch.download import FetchError

_TRUE = {"1", "true", "yes", "on"}


def offline_mode() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def fetch_checkpoint(
    repo_id: str,
    *,
    cache_dir: Path,
    revision: str | None = None,
    local_dir: Path | None = None,
    endpoint: str | None = None,
    force: bool = False,
    quiet: bool = False,
) -> Path:
    """Download (or find in the cache) every file of ``repo_id``; return the snapshot folder."""
    try:
        from huggingface_hub import errors as hub_errors
        from huggingface_hub import snapshot_download
        from huggingface_hub.utils import disable_progress_bars
    except ImportError:
        raise InputError(
            "fetching hub checkpoints needs the huggingface_hub package: "
            "pip install 'dnaseq-cli[hub]' (or pip install huggingface_hub)"
        ) from None
    offline = offline_mode()
    if quiet:
        disable_progress_bars()
    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            local_dir=local_dir,
            endpoint=endpoint,
            force_download=force,
            local_files_only=offline,
        )
    except hub_errors.LocalEntryNotFoundError:
        if offline:
            raise FetchError(
                f"'{repo_id}' is not in the cache ({cache_dir}) and HF_HUB_OFFLINE is set; "
                "unset it to download, or point --cache-dir at a cache that holds it"
            ) from None
        raise FetchError(
            f"cannot reach the hub to download '{repo_id}' and it is not cached ({cache_dir})"
        ) from None
    except hub_errors.GatedRepoError:
        raise FetchError(
            f"'{repo_id}' is gated: accept its terms on the hub and set HF_TOKEN"
        ) from None
    except hub_errors.RepositoryNotFoundError:
        raise FetchError(f"no such hub repository '{repo_id}' (or it is private)") from None
    except hub_errors.RevisionNotFoundError:
        raise FetchError(f"'{repo_id}' has no revision '{revision}'") from None
    except hub_errors.HfHubHTTPError as exc:
        raise FetchError(f"the hub refused '{repo_id}': {exc}") from None
    except OSError as exc:
        raise FetchError(f"cannot download '{repo_id}' from the hub: {exc}") from None
    return Path(folder)

"""Hub checkpoints without network: offline mode serves the cache or fails clearly."""

import os

import pytest

pytest.importorskip("huggingface_hub")

REPO = "kuleshov-group/caduceus-ps_seqlen-131k_d_model-256_n_layer-16"


def offline_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    return {**env, "HF_HUB_OFFLINE": "1", **extra}


def test_offline_with_an_empty_cache_is_a_clear_error(tmp_path, run_cli):
    result = run_cli("fetch", "caduceus/ps-131k", "--cache-dir", tmp_path, env=offline_env())
    assert result.returncode == 2, result.stderr
    assert f"'{REPO}' is not in the cache" in result.stderr and "HF_HUB_OFFLINE" in result.stderr
    assert "Traceback" not in result.stderr


def test_offline_serves_a_cached_snapshot(tmp_path, run_cli):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = tmp_path / "huggingface" / f"models--{REPO.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text('{"d_model": 256}')
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    result = run_cli("fetch", "caduceus/ps-131k", "--cache-dir", tmp_path, "-q", env=offline_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(snapshot)


def test_unlisted_hub_repo_by_prefix(tmp_path, run_cli):
    result = run_cli("fetch", "hf:someone/model", "--cache-dir", tmp_path, env=offline_env())
    assert result.returncode == 2 and "'someone/model' is not in the cache" in result.stderr

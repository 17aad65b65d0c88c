"""``dnaseq fetch`` as a user runs it: exit codes, messages, stdout paths, resume across runs."""

import hashlib
import json
import os

import pytest

PAYLOAD = b"ACGT" * 100_000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_url_download_prints_the_cached_path(http_server, tmp_path, run_cli):
    url = http_server.add("/files/a.txt", PAYLOAD)
    cache = tmp_path / "cache"
    result = run_cli("fetch", url, "--cache-dir", cache, "--sha256", sha(PAYLOAD))
    assert result.returncode == 0, result.stderr
    port = http_server.base.rsplit(":", 1)[1]
    path = cache / "url" / f"127.0.0.1_{port}" / "files" / "a.txt"
    assert result.stdout.strip() == str(path) and path.read_bytes() == PAYLOAD
    assert "fetched" in result.stderr and sha(PAYLOAD) in result.stderr
    again = run_cli("fetch", url, "--cache-dir", cache, "-q")
    assert again.returncode == 0 and again.stdout.strip() == str(path) and again.stderr == ""
    assert len(http_server.requests) == 1


def test_cut_connection_then_a_second_run_resumes_and_verifies(http_server, tmp_path, run_cli):
    url = http_server.add("/big.bin", PAYLOAD)
    http_server.cut_after["/big.bin"] = 150_000
    args = ["fetch", url, "--cache-dir", tmp_path, "--sha256", sha(PAYLOAD), "--retries", "0"]
    first = run_cli(*args)
    assert first.returncode == 2
    assert "interrupted after 150,000 bytes" in first.stderr and "resume" in first.stderr
    assert "Traceback" not in first.stderr
    assert [p.name for p in tmp_path.rglob("big.bin*")] == ["big.bin.part"]
    second = run_cli(*args)
    assert second.returncode == 0, second.stderr
    assert http_server.requests[-1] == ("/big.bin", "bytes=150000-")
    assert next(tmp_path.rglob("big.bin")).read_bytes() == PAYLOAD
    assert not list(tmp_path.rglob("*.part"))


def test_checksum_mismatch_exits_2_and_leaves_the_cache_empty(
    http_server, tmp_path, run_cli, files_under
):
    url = http_server.add("/x.fa.gz", PAYLOAD)
    result = run_cli("fetch", url, "--cache-dir", tmp_path / "c", "--sha256", "a" * 64)
    assert result.returncode == 2
    assert result.stderr.startswith("dnaseq: error: ") and "sha256 mismatch" in result.stderr
    assert files_under(tmp_path / "c") == []


def test_404_exits_2_naming_the_url(http_server, tmp_path, run_cli, files_under):
    url = http_server.url("/nope/hg38.fa.gz")
    result = run_cli("fetch", url, "--cache-dir", tmp_path)
    assert result.returncode == 2
    assert f"{url}: not found on the server (HTTP 404)" in result.stderr
    assert files_under(tmp_path) == []


def test_catalogue_name_through_a_mirror_and_output_file(
    http_server, tmp_path, run_cli, write_catalogue
):
    upstream = "https://downloads.example.org/pub/notes.txt"
    http_server.add("/downloads.example.org/pub/notes.txt", PAYLOAD)
    write_catalogue(
        {
            "name": "toy-notes",
            "kind": "genome",
            "files": [{"url": upstream, "sha256": sha(PAYLOAD)}],
        }
    )
    # a genome entry that is not FASTA: the download is checked, then rejected and removed
    result = run_cli("fetch", "toy-notes", "--cache-dir", tmp_path, "--mirror", http_server.base)
    assert result.returncode == 2 and "FASTA" in result.stderr
    assert http_server.requests == [("/downloads.example.org/pub/notes.txt", None)]
    out = tmp_path / "copy.txt"
    plain = run_cli("fetch", upstream, "-o", out, "--mirror", http_server.base + "/", "-q")
    assert plain.returncode == 0, plain.stderr
    assert out.read_bytes() == PAYLOAD and plain.stdout.strip() == str(out)


def test_env_cache_dir_is_used(http_server, tmp_path, run_cli):
    url = http_server.add("/e.txt", b"hello\n")
    env = {**os.environ, "DNASEQ_CACHE": str(tmp_path / "envcache")}
    result = run_cli("fetch", url, "-q", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(tmp_path / "envcache"))


def test_list_prints_the_catalogue(tmp_path, run_cli):
    result = run_cli("fetch", "--list", "--cache-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    for text in ("hg38", "mm10", "dm6", "genomic-benchmarks/human_enhancers_cohn",
                 "caduceus/ps-131k", "gb-dataset", "hf-checkpoint", "GRCh38"):  # fmt: skip
        assert text in result.stdout, text


def test_list_marks_cached_entries(tmp_path, run_cli, write_catalogue):
    write_catalogue({"name": "mine", "kind": "genome", "files": [{"url": "http://x.org/m.fa"}]})
    folder = tmp_path / "genomes" / "mine"
    folder.mkdir(parents=True)
    for suffix in ("", ".fai", ".gzi"):
        (folder / f"mine.fa.gz{suffix}").write_text("")
    result = run_cli("fetch", "--list", "--cache-dir", tmp_path)
    line = next(line for line in result.stdout.splitlines() if " mine " in line)
    assert "yes" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cache-dir", "{tmp}"], "name at least one resource"),
        (["hg83", "--cache-dir", "{tmp}"], "unknown resource 'hg83'; did you mean hg38"),
        (["hg38", "dm6", "-o", "{tmp}/x"], "--output takes one target"),
        (["hg38", "--genome", "hg38"], "--genome applies to genomic-benchmarks"),
        (["http://127.0.0.1:9/a", "--sha256", "xyz"], "--sha256 must be 64 hex digits"),
        (["genomic-benchmarks/human_enhancers_cohn", "--sha256", "a" * 64], "--sha256 applies"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, run_cli, args, message):
    result = run_cli("fetch", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("*.part"))


def test_bad_extra_catalogue_is_reported(tmp_path, run_cli):
    bad = tmp_path / "cat.json"
    bad.write_text(json.dumps({"resources": [{"name": "x", "kind": "tape"}]}))
    env = {**os.environ, "DNASEQ_CATALOGUE": str(bad)}
    result = run_cli("fetch", "x", "--cache-dir", tmp_path, env=env)
    assert result.returncode == 2 and "unknown kind 'tape'" in result.stderr

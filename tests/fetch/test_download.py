"""Downloads against a local server: resume, checksums, size, 404, atomic placement, cache paths,
mirrors."""

import hashlib
import os

import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.fetch.cache import default_cache_dir, resolve_cache_dir, url_cache_path
from dnaseq_cli.fetch.catalogue import lookup, mirror_url
from dnaseq_cli.fetch.download import FetchError, download, part_path

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: more than one read block


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_places_the_verified_file_and_no_part_file(http_server, tmp_path):
    url = http_server.add("/data/file.bin", PAYLOAD)
    dest = tmp_path / "cache" / "file.bin"
    digest = download(url, dest, sha256=sha(PAYLOAD), size=len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD and digest == sha(PAYLOAD)
    assert not part_path(dest).exists()


def test_cut_connection_keeps_the_part_file_and_the_next_call_resumes_it(http_server, tmp_path):
    url = http_server.add("/g.bin", PAYLOAD)
    http_server.cut_after["/g.bin"] = 300_000
    dest = tmp_path / "g.bin"
    with pytest.raises(FetchError, match="interrupted after 300,000 bytes.*run the same command"):
        download(url, dest, sha256=sha(PAYLOAD), retries=0)
    assert not dest.exists()
    assert part_path(dest).read_bytes() == PAYLOAD[:300_000]
    download(url, dest, sha256=sha(PAYLOAD), retries=0)
    assert dest.read_bytes() == PAYLOAD
    assert http_server.requests[-1] == ("/g.bin", "bytes=300000-")


def test_retry_within_one_call_resumes_with_a_range_request(http_server, tmp_path):
    url = http_server.add("/r.bin", PAYLOAD)
    http_server.cut_after["/r.bin"] = 12_345
    dest = tmp_path / "r.bin"
    download(url, dest, sha256=sha(PAYLOAD), retries=2, backoff=0)
    assert dest.read_bytes() == PAYLOAD
    assert [r for _, r in http_server.requests] == [None, "bytes=12345-"]


def test_server_without_range_support_restarts_from_zero(http_server, tmp_path):
    url = http_server.add("/n.bin", PAYLOAD)
    http_server.honour_range = False
    dest = tmp_path / "n.bin"
    part_path(dest).write_bytes(PAYLOAD[:1000])
    download(url, dest, sha256=sha(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD


def test_complete_part_file_is_verified_without_downloading_again(http_server, tmp_path):
    url = http_server.add("/c.bin", PAYLOAD)
    dest = tmp_path / "c.bin"
    part_path(dest).write_bytes(PAYLOAD)
    download(url, dest, sha256=sha(PAYLOAD))  # the server answers 416 to the range request
    assert dest.read_bytes() == PAYLOAD and not part_path(dest).exists()


def test_checksum_mismatch_leaves_nothing_behind(http_server, tmp_path, files_under):
    url = http_server.add("/bad.bin", PAYLOAD)
    cache = tmp_path / "cache"
    with pytest.raises(FetchError, match="sha256 mismatch.*nothing was kept") as info:
        download(url, cache / "bad.bin", sha256=sha(b"something else"))
    assert info.value.exit_code == 2 and url in str(info.value)
    assert files_under(cache) == []


def test_size_mismatch_is_caught_before_downloading(http_server, tmp_path, files_under):
    url = http_server.add("/s.bin", PAYLOAD)
    with pytest.raises(FetchError, match="size mismatch.*offers 1,048,580 bytes, expected 10"):
        download(url, tmp_path / "s.bin", size=10)
    assert files_under(tmp_path) == []


def test_404_names_the_url(http_server, tmp_path, files_under):
    url = http_server.url("/missing.fa.gz")
    with pytest.raises(FetchError, match=r"missing\.fa\.gz: not found on the server \(HTTP 404\)"):
        download(url, tmp_path / "x")
    assert files_under(tmp_path) == []


def test_unreachable_host_fails_after_the_retries(tmp_path):
    with pytest.raises(FetchError, match=r"download failed \(cannot connect"):
        download("http://127.0.0.1:9/x", tmp_path / "x", retries=1, backoff=0, timeout=2)


def test_file_url_resumes_too(tmp_path):
    source = tmp_path / "mirror" / "f.bin"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "f.bin"
    dest.parent.mkdir()
    part_path(dest).write_bytes(PAYLOAD[:5000])
    download(source.as_uri(), dest, sha256=sha(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD


def test_progress_reports_every_byte(http_server, tmp_path):
    url = http_server.add("/p.bin", PAYLOAD)
    seen = []

    def start(label, total, done):
        seen.append((label, total, done))
        return lambda n: seen.append(n)

    download(url, tmp_path / "p.bin", progress=start)
    assert seen[0] == ("p.bin", len(PAYLOAD), 0)
    assert sum(seen[1:]) == len(PAYLOAD)


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("DNASEQ_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(tmp_path / "opt") == tmp_path / "opt"
    assert resolve_cache_dir(None) == tmp_path / "env"
    monkeypatch.delenv("DNASEQ_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and default_cache_dir().parts[-2:] != ("Caches", "dnaseq"):
        assert resolve_cache_dir(None) == tmp_path / "xdg" / "dnaseq"
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        resolve_cache_dir(tmp_path / "file")


def test_url_cache_path_stays_inside_the_cache(tmp_path):
    path = url_cache_path(tmp_path, "https://example.org/a/../../b/c%2F..%2Fd.txt?x=1")
    assert path.is_relative_to(tmp_path / "url" / "example.org")
    assert ".." not in path.relative_to(tmp_path).parts
    assert url_cache_path(tmp_path, "https://h.org/") == tmp_path / "url" / "h.org" / "download"


def test_mirror_rule_keeps_host_and_path(tmp_path):
    url = "https://hgdownload.soe.ucsc.edu/goldenPath/hg38/bigZips/hg38.fa.gz"
    assert mirror_url(url, "http://10.0.0.1/m/") == (
        "http://10.0.0.1/m/hgdownload.soe.ucsc.edu/goldenPath/hg38/bigZips/hg38.fa.gz"
    )
    assert mirror_url(url, None) == url
    local = mirror_url(url, str(tmp_path))
    assert (
        local == (tmp_path / "hgdownload.soe.ucsc.edu/goldenPath/hg38/bigZips/hg38.fa.gz").as_uri()
    )


def test_lookup_suggests_close_names_and_accepts_open_ended_names():
    catalogue = {}
    with pytest.raises(InputError, match="unknown resource 'hg83'"):
        lookup("hg83", catalogue)
    assert lookup("hf:someone/model", catalogue).repo_id == "someone/model"
    gb = lookup("genomic-benchmarks/new_dataset", catalogue)
    assert gb.kind == "gb-dataset" and gb.files[0].url.endswith("/new_dataset/metadata.yaml")

"""keep_freed_memory: glibc's thresholds are raised (Linux CI), and other C libraries are left be."""

import ctypes
import sys

import pytest

from dnaseq_cli import allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_accepts_the_thresholds():
    assert allocator.keep_freed_memory() is True


def test_a_c_library_without_mallopt_is_left_alone(monkeypatch):
    class NoMallopt:
        def __init__(self, _name):
            pass

    monkeypatch.setattr(ctypes, "CDLL", NoMallopt)
    allocator._mallopt.cache_clear()  # looked up once per process: look again
    try:
        assert allocator.keep_freed_memory() is False
    finally:
        allocator._mallopt.cache_clear()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_heap_only_restores_mmap_after_the_block():
    calls = []

    class Recording:
        def __init__(self, _name):
            self.mallopt = self

        def __call__(self, what, value):
            calls.append((what, value))
            return 1

    real = ctypes.CDLL
    ctypes.CDLL = Recording
    allocator._mallopt.cache_clear()
    try:
        with allocator.heap_only():
            assert calls == [(-4, 0)]
    finally:
        ctypes.CDLL = real
        allocator._mallopt.cache_clear()
    assert calls == [(-4, 0), (-4, 65536)]

"""The output layer's folder rules, seen from several processes (torchrun ranks share one folder)."""

from pathlib import Path

import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.output import partial_folder, resumable_directory


def _enter_as_two_ranks(target: Path, **options) -> list[bool]:
    """Enter the folder as rank 0 with rank 1's checks run at rank 0's barrier, as under torchrun.

    Returns whether the partial folder existed when each barrier was reached.
    """
    seen: list[bool] = []

    def barrier() -> None:
        seen.append(partial_folder(target).exists())

    with resumable_directory(target, is_main=True, barrier=barrier, **options) as work:
        assert work == partial_folder(target) and work.is_dir()
    return seen


def test_no_rank_finds_a_partial_folder_another_rank_began(tmp_path):
    """The barrier comes after the checks and before rank 0 makes the folder: a rank that checks
    late cannot mistake rank 0's new partial folder for an unfinished earlier run."""
    target = tmp_path / "run"
    assert _enter_as_two_ranks(target, force=False, resume=False) == [False]
    assert target.is_dir() and not partial_folder(target).exists()


def test_force_removes_its_own_partial_folder_only_after_the_barrier(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        with resumable_directory(target, force=False, resume=False, keep=lambda f: True) as work:
            (work / "last_state.pt").write_bytes(b"x")
            raise KeyboardInterrupt
    assert partial_folder(target).is_dir()  # kept: it can be resumed
    with pytest.raises(InputError, match="unfinished run"):
        _enter_as_two_ranks(target, force=False, resume=False)
    assert _enter_as_two_ranks(target, force=True, resume=False) == [True]  # removed after it
    assert target.is_dir() and not (target / "last_state.pt").exists()


def test_resume_calls_the_barrier_too(tmp_path):
    target = tmp_path / "run"
    partial_folder(target).mkdir()
    calls: list[int] = []
    with resumable_directory(
        target, force=False, resume=True, barrier=lambda: calls.append(1)
    ) as work:
        assert work == partial_folder(target)
    assert calls == [1]

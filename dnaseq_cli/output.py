"""The one output layer: every file and folder a command writes is opened here.

Rules (so that no ordinary mistake loses a user's data):

- A regular file (or an absent one) is written to a temporary sibling and renamed onto the target
  only when complete. A symlink is followed: its target is replaced, the link is kept.
- Anything else (``-``, ``/dev/null``, ``/dev/stdout``, a FIFO, ``/dev/fd/N`` from ``>(...)``) is
  written to directly, streaming, and never replaced or removed.
- An output that is the same file as one of the command's inputs, or lies inside an input folder,
  is refused before any work starts (:func:`refuse_overwriting_inputs`).
- A folder output is built under a temporary sibling and moved into place when complete
  (:func:`output_directory`). An existing folder is replaced only with ``force``, only after the new
  one is complete, and only if it is empty or every file in it was written by dnaseq (the
  :data:`MARKER` file lists them); never ``.``, an ancestor of it, ``/``, the home folder, or a
  folder holding an input.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from dnaseq_cli.errors import InputError

STDOUT = "-"
MARKER = ".dnaseq-output"
"""Written into every folder dnaseq builds: the files it wrote, so --force knows what it may replace."""

INDEX_SUFFIXES = (".fai", ".gzi", ".tbi", ".csi")
"""Index files that travel with an input: overwriting one corrupts the input's use."""

PathLike = str | os.PathLike[str]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def normal_mode(path: Path, directory: bool = False) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; outputs get the usual umask mode."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def is_stream(target: PathLike) -> bool:
    """True for stdout and for existing targets that are not regular files or folders."""
    if str(target) == STDOUT:
        return True
    try:
        mode = os.stat(target).st_mode  # follows links: a link to /dev/null is a stream
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _cannot_write(target: PathLike, error: OSError) -> InputError:
    return InputError(f"cannot write: {error.strerror or error}", path=target)


def _make_parents(folder: Path) -> list[Path]:
    """Create missing parent folders; return those made (removed again if the write fails)."""
    made: list[Path] = []
    current = folder
    while not current.exists():
        made.append(current)
        current = current.parent
    for path in reversed(made):
        path.mkdir()
    return made


def _remove_made(made: list[Path]) -> None:
    for path in made:  # deepest first
        with contextlib.suppress(OSError):
            path.rmdir()


@contextlib.contextmanager
def atomic_path(target: PathLike) -> Iterator[Path]:
    """Yield a path to write; it becomes ``target`` only if the block succeeds.

    For a stream target (a device, FIFO, ``/dev/fd/N``) the file is written to a private temporary
    file and then copied into the stream, which is never replaced. Use :func:`open_output` when
    the writer can take a handle: it streams without the copy.
    """
    target = Path(target)
    if str(target) == STDOUT:
        raise InputError("this output cannot be '-' (stdout); give a file name")
    if is_stream(target):
        with tempfile.TemporaryDirectory(prefix="dnaseq-") as folder:
            tmp = Path(folder) / target.name
            yield tmp
            try:
                with open(tmp, "rb") as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
            except OSError as error:
                raise _cannot_write(target, error) from error
        return
    real = Path(os.path.realpath(target))
    if real.is_dir():
        raise InputError("is a folder; give a file name", path=target)
    try:
        made = _make_parents(real.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
    except OSError as error:
        raise _cannot_write(target, error) from error
    os.close(fd)
    tmp = Path(tmp_name)
    done = False
    try:
        yield tmp
        if tmp.exists():
            normal_mode(tmp)
        try:
            os.replace(tmp, real)
        except OSError as error:
            raise _cannot_write(target, error) from error
        done = True
    finally:
        if tmp.exists():
            tmp.unlink()
        if not done:
            _remove_made(made)


@contextlib.contextmanager
def open_output(target: PathLike, binary: bool = False) -> Iterator[IO]:
    """Open ``target`` for writing by the rules above; ``-`` is stdout (left open)."""
    if str(target) == STDOUT:
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    mode, newline = ("wb", None) if binary else ("w", "")
    if is_stream(target):
        try:
            handle = open(target, mode, newline=newline)  # noqa: SIM115 - closed below
        except OSError as error:
            raise _cannot_write(target, error) from error
        with handle:
            yield handle
        return
    with atomic_path(target) as tmp, open(tmp, mode, newline=newline) as handle:
        yield handle


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        return None  # /dev/stdin and /dev/stdout may be one terminal: not a file to protect
    return info.st_dev, info.st_ino


def _with_indexes(path: Path) -> list[Path]:
    found = [path]
    for suffix in INDEX_SUFFIXES:
        sibling = Path(str(path) + suffix)
        if sibling.exists():
            found.append(sibling)
    return found


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def refuse_overwriting_inputs(
    outputs: Iterable[PathLike | None], inputs: Iterable[PathLike | None]
) -> None:
    """Exit 2 before any work if an output is an input (same inode) or lies inside an input folder.

    Inputs include their index files (``.fai``, ``.gzi``, ``.tbi``, ``.csi``).
    """
    files: dict[tuple[int, int], Path] = {}
    folders: list[tuple[Path, Path]] = []
    for given in inputs:
        if given is None or str(given) == STDOUT:
            continue
        for path in _with_indexes(Path(given)):
            identity = _identity(path)
            if identity is None:
                continue
            if path.is_dir():
                folders.append((Path(os.path.realpath(path)), path))
            files[identity] = path
    for output in outputs:
        if output is None or str(output) == STDOUT:
            continue
        output = Path(output)
        identity = _identity(output)
        if identity is not None and identity in files:
            raise InputError(
                f"the output is the input {files[identity]}; refusing to overwrite it",
                path=output,
            )
        real = Path(os.path.realpath(output))
        for folder, given in folders:
            if _inside(real, folder):
                raise InputError(f"the output is inside the input folder {given}", path=output)


# ----------------------------------------------------------------------------------------------
# Folder outputs


def _written_files(folder: Path) -> list[str]:
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if not path.is_dir() and path.name != MARKER
    )


def mark_as_written(folder: Path) -> None:
    """Record every file under ``folder`` as dnaseq's own (see :data:`MARKER`)."""
    (folder / MARKER).write_text(json.dumps({"files": _written_files(folder)}, indent=1) + "\n")


def written_by_dnaseq(folder: Path) -> bool:
    """True if ``folder`` is empty or every file in it is listed in its marker."""
    if not any(folder.iterdir()):
        return True
    try:
        listed = set(json.loads((folder / MARKER).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return set(_written_files(folder)) <= listed


def _why_protected(folder: Path) -> str:
    cwd = Path.cwd().resolve()
    if folder == cwd:
        return "the current folder"
    if folder == Path("/"):
        return "the root folder"
    if folder == Path.home().resolve():
        return "the home folder"
    return "a folder that holds the current folder"


def _protected_folders() -> list[Path]:
    cwd = Path.cwd().resolve()
    return [cwd, *cwd.parents, Path.home().resolve(), Path("/")]


def check_folder_output(
    target: PathLike, *, force: bool, inputs: Iterable[PathLike | None] = (), exists_hint: str = ""
) -> None:
    """Refuse a folder target that must not be written or replaced (exit 2, before any work)."""
    target = Path(target)
    real = target.resolve()
    if real in _protected_folders():
        raise InputError(f"refusing to write into {_why_protected(real)}; choose a new folder",
                         path=target)  # fmt: skip
    refuse_overwriting_inputs([target], inputs)
    for given in inputs:
        if given is None or str(given) == STDOUT:
            continue
        if _inside(Path(os.path.realpath(given)), real):
            raise InputError(f"the output folder holds the input {given}", path=target)
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir():
        raise InputError("exists and is not a folder", path=target)
    if not force:
        if any(target.iterdir()):
            raise InputError(
                f"already exists{exists_hint or ' (use --force to replace it)'}", path=target
            )
        return
    if not written_by_dnaseq(target):
        raise InputError(
            "not replaced: it holds files dnaseq did not write; remove them yourself or choose "
            "another folder",
            path=target,
        )


def place_folder(built: Path, target: Path) -> None:
    """Move a complete ``built`` folder onto ``target``, replacing it only after the move is ready."""
    mark_as_written(built)
    normal_mode(built, directory=True)
    if target.exists():
        backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, backup / target.name)
        os.replace(built, target)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(built, target)


@contextlib.contextmanager
def output_directory(
    target: PathLike,
    *,
    force: bool = False,
    inputs: Iterable[PathLike | None] = (),
    exists_hint: str = "",
) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; it becomes ``target`` only if the block succeeds."""
    target = Path(target)
    check_folder_output(target, force=force, inputs=inputs, exists_hint=exists_hint)
    real = Path(os.path.realpath(target))
    try:
        made = _make_parents(real.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent))
    except OSError as error:
        raise _cannot_write(target, error) from error
    done = False
    try:
        yield tmp
        place_folder(tmp, real)
        done = True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if not done:
            _remove_made(made)


PARTIAL_SUFFIX = ".partial"


def partial_folder(target: PathLike) -> Path:
    """Where an unfinished resumable folder output is built: a hidden sibling of ``target``."""
    target = Path(target)
    return target.parent / f".{target.name}{PARTIAL_SUFFIX}"


def _is_own_partial(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / MARKER).read_text()).get("partial"))
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def resumable_directory(
    target: PathLike,
    *,
    force: bool,
    resume: bool,
    inputs: Iterable[PathLike | None] = (),
    keep: Callable[[Path], bool] = lambda folder: False,
    is_main: bool = True,
    barrier: Callable[[], None] = lambda: None,
) -> Iterator[Path]:
    """Yield the folder to work in for a long job that can be continued (``dnaseq train``).

    A new job works in :func:`partial_folder` and is moved onto ``target`` when complete (an existing
    ``target`` is replaced only under the rules of :func:`check_folder_output`). If the job stops
    early, the partial folder is kept when ``keep(folder)`` says it can be continued (``resume``
    finds it there) and removed otherwise. ``resume`` without a partial folder continues in
    ``target`` itself (a folder the user names as dnaseq's earlier run). Only the main process
    (``is_main``) changes folders; the others get the same path. ``barrier`` is called by every
    process after its checks and before the main process changes anything (under torchrun, the
    process group's barrier), so no process checks a folder another has already begun to build.
    """
    target = Path(target)
    partial = partial_folder(target)
    if resume:
        if partial.is_dir():
            work, in_place = partial, False
        elif target.is_dir():
            work, in_place = target, True
        else:
            raise InputError(
                f"nothing to resume: neither it nor {partial.name} exists", path=target
            )
        barrier()
    else:
        check_folder_output(
            target, force=force, inputs=inputs, exists_hint=" (use --force to replace or --resume)"
        )
        if partial.exists():
            if not (force and _is_own_partial(partial)):
                raise InputError(
                    f"an unfinished run is in {partial}: continue it with --resume, or start again "
                    "with --force",
                    path=target,
                )
        barrier()
        if partial.exists() and is_main:
            shutil.rmtree(partial)
        work, in_place = partial, False
        if is_main:
            try:
                _make_parents(partial.parent)
                partial.mkdir()
            except OSError as error:
                raise _cannot_write(target, error) from error
            (partial / MARKER).write_text(json.dumps({"partial": True}) + "\n")
    try:
        yield work
    except BaseException:
        if is_main and not in_place and partial.exists() and not keep(partial):
            shutil.rmtree(partial, ignore_errors=True)
        raise
    if not is_main:
        return
    if in_place:
        mark_as_written(target)
    else:
        place_folder(partial, Path(os.path.realpath(target)) if target.is_symlink() else target)

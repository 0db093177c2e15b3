"""Output directories and files: claimed atomically, written atomically.

Every command that writes results (run, sweep, report, compare, schema) goes through this
module, with three commit protocols:

* a whole directory is filled as a hidden sibling ``.<name>.partial-<pid>`` and renamed into
  place when complete (:func:`staged_dir`; a previous one is swapped out in one step when it
  is replaced), so it appears complete or not at all;
* a run directory that already exists (a checkpointed run) gets its files by atomic renames
  from a hidden staging folder, ``summary.json`` last (:func:`commit_files`): a run directory
  is complete iff it holds ``summary.json``;
* a single file is written through a hidden temporary sibling and ``os.replace``
  (:func:`write_atomic`).

Run directories are claimed atomically when a run starts, complete iff they hold
summary.json.

A run claims its directory before it simulates, so that two runs never write into one
directory and a directory that cannot be written is found at once (exit 2), not after the
simulation. The claim is two create-exclusive steps:

* the directory itself: a default name (``results/<name>/<stamp>-seed<seed>``) is created with
  ``mkdir`` (which fails if it exists, and then the next name ``...-2``, ``-3``, … is tried);
  an explicit ``--out`` may also be an existing empty directory, or the remains of a run killed
  before its first checkpoint (``scenario.yaml`` and an empty ``checkpoint/``), which is reused;
* a claim file beside it, ``.<dir-name>.claim`` (``O_CREAT | O_EXCL``), holding the owner's
  host and process id: a second run with the same ``--out`` is refused at once while the first
  one lives. A claim left by a process that no longer exists (on this host) is taken over.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fedsl_sim.errors import ScenarioError

CHECKPOINT_DIR = "checkpoint"
#: what ``--checkpoint-every`` writes before its first checkpoint: the interval and source
SETTINGS_FILE = "settings.json"


def claim_path(run_dir: Path) -> Path:
    """The claim file of ``run_dir`` (a hidden sibling)."""
    return run_dir.parent / f".{run_dir.name}.claim"


def _alive(owner: dict[str, object]) -> bool:
    """Whether the process that wrote a claim still runs (always assumed on another host)."""
    if owner.get("host") != socket.gethostname():
        return True
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_owner(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text()[:1000])
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _stale(owner: dict[str, object]) -> bool:
    """A claim nobody holds: unreadable (its writer died while writing it), or of a process
    of this host that no longer exists. A claim of another host cannot be checked."""
    if not isinstance(owner.get("host"), str) or not isinstance(owner.get("pid"), int):
        return True
    return not _alive(owner)


def take_claim(run_dir: Path, what: str = "--out") -> None:
    """Claim ``run_dir`` for this process; :class:`ScenarioError` if a live run holds it."""
    path = claim_path(run_dir)
    me = json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = _read_owner(path)
            if owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
                return  # ours already
            if not _stale(owner):
                advice = "choose another directory" if what == "--out" else "wait for it"
                raise ScenarioError(
                    what,
                    f"{run_dir} is being written by another fedsl-sim run (pid "
                    f"{owner.get('pid')} on {owner.get('host')}); {advice}, or, if no run is "
                    f"writing it (e.g. it was killed on another machine), delete {path}",
                ) from None
            path.unlink(missing_ok=True)  # left by a run that was killed: take it over
            continue
        except OSError as exc:
            raise ScenarioError(
                what, f"cannot write in {run_dir.parent}: {exc.strerror or exc}"
            ) from None
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(me)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise ScenarioError(
                what, f"cannot write in {run_dir.parent}: {exc.strerror or exc}"
            ) from None
        return
    raise ScenarioError(what, f"cannot claim {run_dir}: another run keeps claiming it")


def release_claim(run_dir: Path) -> None:
    """Give ``run_dir`` up (only a claim of this process)."""
    path = claim_path(run_dir)
    owner = _read_owner(path)
    if owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


def is_dead_run_dir(run_dir: Path) -> bool:
    """What a checkpointed run killed before its first checkpoint leaves: ``scenario.yaml``
    and a ``checkpoint/`` folder holding its ``settings.json`` and no checkpoint (temporary
    files at most). Anything else — a user's own ``scenario.yaml`` alone, say — is not."""
    try:
        names = {p.name for p in run_dir.iterdir()}
        ckpt = run_dir / CHECKPOINT_DIR
        if names != {"scenario.yaml", CHECKPOINT_DIR} or not ckpt.is_dir():
            return False
        inside = {p.name for p in ckpt.iterdir()}
    except OSError:
        return False
    return SETTINGS_FILE in inside and all(n == SETTINGS_FILE or n.startswith(".") for n in inside)


@dataclass
class Claim:
    """A claimed run directory; ``created``: this run made it (remove it on failure)."""

    run_dir: Path
    created: bool

    def release(self) -> None:
        release_claim(self.run_dir)


def claim_run_dir(final: Path, explicit: bool, next_name: Callable[[], Path]) -> Claim:
    """Claim the run directory ``final`` (``explicit``: given with ``--out``; otherwise a
    default name, replaced by ``next_name()`` while taken). Raises :class:`ScenarioError`
    (exit 2) when it cannot be created or written, is taken, or is not empty."""
    while True:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScenarioError(
                "--out", f"cannot create {final.parent}: {exc.strerror or exc}"
            ) from None
        if not explicit:
            try:
                final.mkdir()
            except FileExistsError:
                final = next_name()
                continue
            except OSError as exc:
                raise ScenarioError("--out", f"cannot create {final}: {exc.strerror}") from None
            try:
                take_claim(final, "the run directory")
            except ScenarioError:  # a claim of a run elsewhere on this name: the next one
                final.rmdir()
                final = next_name()
                continue
            return Claim(final, True)
        if final.is_symlink():
            raise ScenarioError("--out", f"{final} is a symbolic link; give the directory itself")
        take_claim(final)
        try:
            try:
                final.mkdir()
                created = True
            except FileExistsError:
                created = False
                if not final.is_dir():
                    raise ScenarioError("--out", f"{final} exists and is not a directory") from None
                if is_dead_run_dir(final):  # killed before its first checkpoint: start over
                    for p in final.iterdir():
                        if p.is_dir():
                            shutil.rmtree(p)
                        else:
                            p.unlink()
                elif any(final.iterdir()):
                    raise ScenarioError(
                        "--out", f"{final} exists and is not an empty directory"
                    ) from None
            except OSError as exc:
                raise ScenarioError("--out", f"cannot create {final}: {exc.strerror}") from None
            probe = final / f".write-test-{os.getpid()}"
            try:
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                raise ScenarioError("--out", f"cannot write in {final}: {exc.strerror}") from None
        except BaseException:
            release_claim(final)
            raise
        return Claim(final, created)


def write_atomic(path: Path, content: str | bytes | Callable[[Path], None]) -> None:
    """Write ``path`` (text, bytes, or ``content(tmp_path)`` writing it) through a hidden
    temporary sibling and ``os.replace``: readers see the old file or the new one, never
    part of one; the temporary file never outlives a failure."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if isinstance(content, str):
            tmp.write_text(content)
        elif isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            content(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def partial_dir(final: Path) -> Path:
    """The hidden sibling in which ``final`` is filled before it is renamed into place."""
    return final.parent / f".{final.name}.partial-{os.getpid()}"


@contextmanager
def staged_dir(final: Path, replace: bool = False) -> Iterator[Path]:
    """Fill a hidden sibling of ``final``; when the ``with`` block succeeds it becomes
    ``final`` by one rename (over an empty ``final``; with ``replace``, an existing ``final``
    is swapped out and removed, and put back if the rename fails); on any failure it is
    removed and ``final`` is as it was."""
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_dir(final)
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir()
        yield partial
        if replace and final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(final, old)
            try:
                os.rename(partial, final)
            except BaseException:
                os.rename(old, final)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def commit_files(staging: Path, run_dir: Path, last: str = "summary.json") -> None:
    """Move every file of ``staging`` into ``run_dir`` by atomic renames, ``last`` last (its
    presence marks the directory complete), then remove ``staging``."""
    try:
        names = sorted(p.name for p in staging.iterdir() if p.name != last)
        for name in [*names, *([last] if (staging / last).exists() else [])]:
            os.replace(staging / name, run_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

"""Checkpoints of a run at round boundaries, and loading them to resume the run.

A checkpoint is the whole :class:`~fedsl_sim.engine.Simulation` object graph between two
rounds — models, optimizer states, pruning masks, every numpy and torch generator, the
channel (mobility, LOS, shadowing and fading processes and their cached blocks), the medium,
round control, the batch streams' positions and the recorder's rows and events — pickled,
with three things left out and rebuilt on load:

* the SimPy environment: between rounds no process is alive and the only events left in its
  queue are dead (the finished round's process, medium wake-ups superseded by a re-plan), so
  a fresh ``Environment(initial_time=clock)`` replaces it (its ``itertools.count`` event ids
  are never pickled). Saving checks this and refuses a live event;
* SimPy resources (the server's workers), idle between rounds, rebuilt on the new
  environment;
* the dataset, rebuilt from the scenario's seed and checked against its SHA-256.

File layout: a magic line, one line of JSON (format version, the resolved scenario, rounds
completed, simulated clock, checkpoint interval, accumulated wall time, the SHA-256 and size
of the payload, the software environment, an HMAC-SHA256), then the pickle payload. The header
is read and checked before anything is unpickled.

Trust: the payload is a pickle, and unpickling a crafted one runs code. So every checkpoint is
signed with an HMAC-SHA256 (over the header and the payload) keyed by a secret of the user that
wrote it: 32 random bytes created on first use, with mode 0600, in
``$FEDSL_SIM_CONFIG_DIR`` (default ``$XDG_CONFIG_HOME/fedsl-sim`` or ``~/.config/fedsl-sim``)
as ``checkpoint.key``. A checkpoint whose signature does not match the running user's key —
edited, or written by someone else or on another machine — is refused before anything is
unpickled, unless the user explicitly trusts it (``trust=True``, ``--trust-checkpoint``). The
SHA-256 alone could not do this: whoever edits the payload recomputes it.
"""

from __future__ import annotations

import contextlib
import copyreg
import hashlib
import hmac
import io
import json
import os
import pickle
import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import simpy
import torch
from simpy.resources.base import BaseResource

from fedsl_sim.build import build_dataset
from fedsl_sim.learning.data import Dataset
from fedsl_sim.rundir import write_atomic
from fedsl_sim.scenario import Scenario, ScenarioError
from fedsl_sim.sim.streams import Streams
from fedsl_sim.simulation import Simulation

FORMAT = "fedsl-sim checkpoint"
#: 2: the fidelity fixes changed the pickled layout (medium, world, recorder, schemes)
#: 3: runtime classes built by fedsl_sim.build (no scenario in the world or the schemes)
#: 4: the medium keeps its transmissions' progress as arrays (execution.threads in scenarios)
#: 5: the medium's transmissions and plans live in fedsl_sim.sim.transmissions
#: 6: per-device state made on demand (fedsl_sim.schemes.copies; lazy batch streams)
#: 7: the channel's chunk size is an attribute of the channel (it depends on the links)
#: 8: the round driver holds the control policy's controller (decisions so far)
#: 9: the medium holds per-device share weights (a control policy's)
#: 10: split schemes hold their per-device knobs (split layer, pruning, bits, dropout)
FORMAT_VERSION = 10
MAGIC = b"fedsl-sim checkpoint\n"
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "latest.ckpt"
PICKLE_PROTOCOL = 5
_MAX_HEADER_BYTES = 1 << 24
KEY_FILE = "checkpoint.key"
_KEY_BYTES = 32
_RESOURCES = (simpy.Resource, simpy.PriorityResource, simpy.PreemptiveResource)


class CheckpointError(ScenarioError):
    """A checkpoint that cannot be resumed: missing, corrupt, of another format version, or
    of a run that is already complete. Bad input (exit code 2); names the file."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(str(path), message)


class CheckpointStateError(RuntimeError):
    """The simulation cannot be saved here: something is still alive between rounds."""


class CheckpointWarning(UserWarning):
    """A checkpoint written by other code or library versions than the running ones."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the simulation after ``rounds_completed`` rounds, and its header."""

    simulation: Simulation
    rounds_completed: int
    checkpoint_every: int
    wall_time_s: float
    source: str
    header: dict[str, Any]


def checkpoint_path(run_dir: str | Path) -> Path:
    """Where the latest checkpoint of ``run_dir`` lives."""
    return Path(run_dir) / CHECKPOINT_DIR / CHECKPOINT_FILE


def software_environment() -> dict[str, str]:
    """Versions that a resumed run must share with the original to reproduce it exactly:
    Python, numpy, torch, and a SHA-256 of the ``fedsl_sim`` and ``channels`` sources."""
    import channels
    import fedsl_sim

    h = hashlib.sha256()
    for pkg in (fedsl_sim, channels):
        root = Path(pkg.__file__).resolve().parent
        for f in sorted(root.rglob("*.py")):
            h.update(f.relative_to(root.parent).as_posix().encode() + b"\0")
            h.update(f.read_bytes() + b"\0")
    return {
        "fedsl_sim": fedsl_sim.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "code_sha256": h.hexdigest(),
    }


def dataset_sha256(ds: Dataset) -> str:
    """SHA-256 of a dataset's tensors (checks that a rebuilt dataset is the original)."""
    h = hashlib.sha256()
    for t in (ds.train_x, ds.train_y, ds.test_x, ds.test_y):
        a = t.detach().cpu().contiguous().numpy()
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


# ---------------------------------------------------------------------------------- pickling
def _mappingproxy(d: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(d)


def _reduce_mappingproxy(m: MappingProxyType[str, Any]) -> tuple[Any, tuple[dict[str, Any]]]:
    return _mappingproxy, (dict(m),)


class _Pickler(pickle.Pickler):
    """Pickles a simulation with its environment, resources and dataset left out."""

    def __init__(
        self, file: io.BytesIO, env: simpy.Environment, dataset: Dataset, sc: Scenario
    ) -> None:
        super().__init__(file, protocol=PICKLE_PROTOCOL)
        self._env, self._dataset, self._scenario = env, dataset, sc
        # read-only tables (e.g. the 3GPP path-loss coefficients) held by channel models
        self.dispatch_table = copyreg.dispatch_table.copy()  # type: ignore[misc]
        self.dispatch_table[MappingProxyType] = _reduce_mappingproxy

    def persistent_id(self, obj: Any) -> Any:
        if obj is self._env:
            return ("env",)
        if obj is self._dataset:
            return ("dataset", self._scenario)
        if isinstance(obj, BaseResource):
            if type(obj) not in _RESOURCES:
                raise CheckpointStateError(f"cannot checkpoint a {type(obj).__name__}")
            if obj.users or obj.queue or obj.put_queue or obj.get_queue:
                raise CheckpointStateError(f"a resource is in use between rounds: {obj!r}")
            return ("resource", type(obj), obj.capacity)
        if isinstance(obj, simpy.Environment):
            raise CheckpointStateError("the simulation refers to a second SimPy environment")
        if isinstance(obj, simpy.Event):
            raise CheckpointStateError(
                f"a SimPy event is still referenced between rounds: {obj!r} "
                "(schemes must not keep events or processes across rounds)"
            )
        return None


class _Unpickler(pickle.Unpickler):
    """Loads a simulation onto a fresh environment at ``clock_s``, rebuilding the dataset."""

    def __init__(self, file: io.BytesIO, clock_s: float) -> None:
        super().__init__(file)
        self.env = simpy.Environment(initial_time=clock_s)
        self.dataset: Dataset | None = None

    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0]
        if kind == "env":
            return self.env
        if kind == "resource":
            _, cls, capacity = pid
            return cls(self.env, capacity=capacity)
        if kind == "dataset":
            sc = pid[1]
            self.dataset = build_dataset(sc, Streams(sc.seed))
            return self.dataset
        raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")


def _check_between_rounds(env: simpy.Environment) -> None:
    """Every event still queued must be dead: no callbacks, or only stale ones (processing
    it later would change nothing), and not a failure (which would crash the run)."""
    if env.active_process is not None:
        raise CheckpointStateError(f"a process is running: {env.active_process!r}")
    for _t, _prio, _eid, event in env._queue:  # SimPy has no public view of its queue
        if not event.ok and not hasattr(event, "_defused"):
            raise CheckpointStateError(f"a failed event is pending: {event!r}")
        callbacks = event.callbacks or ()
        if not all(getattr(cb, "stale", False) for cb in callbacks):
            raise CheckpointStateError(
                f"cannot checkpoint at t={env.now!r} s: {event!r} is scheduled with live "
                f"callbacks {callbacks!r} (a process is still running between rounds)"
            )


# ---------------------------------------------------------------------------------- trust
def config_dir() -> Path:
    """fedsl-sim's per-user configuration folder (where the checkpoint key lives)."""
    explicit = os.environ.get("FEDSL_SIM_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "fedsl-sim"


def checkpoint_key() -> tuple[bytes, Path]:
    """The running user's checkpoint signing key and its file, created (mode 0600) on first
    use. Raises :class:`CheckpointError` when it exists but is unusable."""
    path = config_dir() / KEY_FILE
    if not path.exists():
        # written whole to a private temporary file, then linked into place (created once,
        # never replaced, unlike rundir.write_atomic): a concurrent first use never reads a
        # partial key (the loser of the race uses the winner's)
        tmp = path.with_name(f".{KEY_FILE}.tmp-{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(_KEY_BYTES))
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise CheckpointError(
                path, f"cannot create the checkpoint key: {exc.strerror or exc}"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(path, f"cannot read the checkpoint key: {exc.strerror}") from None
    if len(key) != _KEY_BYTES:
        raise CheckpointError(
            path,
            f"the checkpoint key must be {_KEY_BYTES} bytes, got {len(key)}; delete it to "
            "make a new one (checkpoints signed with the old key are then refused)",
        )
    return key, path


def _signature(key: bytes, header: dict[str, Any], payload: bytes | memoryview) -> str:
    """HMAC-SHA256 of the header (without its signature, canonical JSON) and the payload."""
    fields = {k: v for k, v in header.items() if k != "hmac_sha256"}
    mac = hmac.new(key, json.dumps(fields, sort_keys=True, allow_nan=False).encode(), "sha256")
    mac.update(payload)
    return mac.hexdigest()


# ---------------------------------------------------------------------------------- save/load
def save_checkpoint(
    path: str | Path,
    sim: Simulation,
    *,
    checkpoint_every: int,
    wall_time_s: float,
    source: str,
    data_sha256: str | None = None,
) -> int:
    """Write ``sim`` (between two rounds) to ``path`` atomically; returns the file's size.

    The file is written to a temporary sibling and renamed over ``path``, so ``path`` is
    always either the previous checkpoint or the new one, complete.
    """
    path = Path(path)
    env = sim.world.env
    _check_between_rounds(env)
    buf = io.BytesIO()
    _Pickler(buf, env, sim.data.dataset, sim.scenario).dump(sim)
    payload = buf.getbuffer()
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "scenario": sim.scenario.model_dump(mode="json"),
        "source": source,
        "rounds_completed": len(sim.world.recorder.rounds),
        "clock_s": env.now,
        "checkpoint_every": checkpoint_every,
        "wall_time_s": wall_time_s,
        "dataset_sha256": data_sha256 or dataset_sha256(sim.data.dataset),
        "environment": software_environment(),
        "payload_bytes": payload.nbytes,
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    header["hmac_sha256"] = _signature(checkpoint_key()[0], header, payload)
    head = MAGIC + json.dumps(header, allow_nan=False).encode() + b"\n"

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            fh.write(head)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before it replaces the previous checkpoint

    write_atomic(path, write)
    return len(head) + payload.nbytes


def _read(path: Path, trust: bool = False) -> tuple[dict[str, Any], bytes]:
    """The checked header and the payload of the checkpoint at ``path`` (nothing unpickled);
    unless ``trust``, its signature must be the running user's."""
    if not path.is_file():
        raise CheckpointError(
            path,
            "no checkpoint (the run was not started with --checkpoint-every, or was "
            "interrupted before its first checkpoint: start it again)",
        )
    with path.open("rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise CheckpointError(path, "not a fedsl-sim checkpoint (corrupt file)")
        line = fh.readline(_MAX_HEADER_BYTES)
        try:
            header = json.loads(line)
            version = header["format_version"]
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(path, "corrupt checkpoint: unreadable header") from None
        if version != FORMAT_VERSION:
            raise CheckpointError(
                path,
                f"checkpoint format version {version!r}, but this fedsl-sim reads version "
                f"{FORMAT_VERSION}; finish the run with the fedsl-sim that started it",
            )
        payload = fh.read()
    try:
        size, digest = int(header["payload_bytes"]), str(header["payload_sha256"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(path, "corrupt checkpoint: incomplete header") from None
    if len(payload) != size or hashlib.sha256(payload).hexdigest() != digest:
        raise CheckpointError(
            path,
            f"corrupt checkpoint: the payload does not match its checksum ({len(payload)} of "
            f"{size} bytes; truncated or altered)",
        )
    if not trust:
        key, key_path = checkpoint_key()
        given = header.get("hmac_sha256")
        if not isinstance(given, str) or not hmac.compare_digest(
            given, _signature(key, header, payload)
        ):
            raise CheckpointError(
                path,
                "refused: its signature does not match your checkpoint key "
                f"({key_path}): it was altered, or written by another user or on another "
                "machine. A checkpoint is a pickle and loading it can run code from the file; "
                "resume it only if you trust where it came from, with --trust-checkpoint",
            )
    return header, payload


def read_header(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """The JSON header of a checkpoint, checked; nothing is unpickled."""
    return _read(Path(path), trust)[0]


def load_checkpoint(path: str | Path, trust: bool = False) -> Checkpoint:
    """Load the checkpoint at ``path`` onto a fresh SimPy environment.

    Raises :class:`CheckpointError` (naming ``path``) if the file is missing, corrupt, of
    another format version, not signed with the running user's key (unless ``trust``: the
    caller vouches for the file), or does not load; warns (:class:`CheckpointWarning`) if it was
    written by other code or library versions, which may not reproduce the original run.
    """
    path = Path(path)
    header, payload = _read(path, trust)
    try:
        up = _Unpickler(io.BytesIO(payload), float(header["clock_s"]))
        sim = up.load()
    except CheckpointError:
        raise
    except ScenarioError as exc:  # the dataset is rebuilt from its files: missing, moved, ...
        raise ScenarioError(
            exc.source, f"{exc.message} (needed to resume {path})", path=exc.path
        ) from None
    except Exception as exc:
        raise CheckpointError(
            path, f"cannot be loaded ({type(exc).__name__}: {exc}); was it written by other code?"
        ) from None
    if not isinstance(sim, Simulation) or sim.world.env is not up.env or up.dataset is None:
        raise CheckpointError(path, "corrupt checkpoint: not a simulation")
    if len(sim.world.recorder.rounds) != header["rounds_completed"]:
        raise CheckpointError(path, "corrupt checkpoint: header and payload disagree")
    if dataset_sha256(up.dataset) != header["dataset_sha256"]:
        raise CheckpointError(
            path,
            f"the dataset rebuilt from the scenario ({sim.scenario.learning.dataset.kind}) "
            "differs from the one the run started with (other library versions?)",
        )
    saved, now = header.get("environment", {}), software_environment()
    differ = sorted(k for k in now if saved.get(k) != now[k])
    if differ:
        warnings.warn(
            f"{path}: written with other {', '.join(differ)} than the running ones; the "
            "resumed run may differ from an uninterrupted one",
            CheckpointWarning,
            stacklevel=2,
        )
    return Checkpoint(
        simulation=sim,
        rounds_completed=int(header["rounds_completed"]),
        checkpoint_every=int(header["checkpoint_every"]),
        wall_time_s=float(header["wall_time_s"]),
        source=str(header.get("source", "checkpoint")),
        header=header,
    )

"""Trace replay: positions from a CSV file or rows, interpolated linearly."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from channels import _validate
from channels.mobility.base import MODELS, _PathModel, _Track

_TRACE_COLUMNS = ("t_s", "device", "x_m", "y_m")


def _trace_records(path_or_rows: Any) -> tuple[str, Iterator[tuple[str, Mapping[str, Any]]]]:
    """``(source, records)``: each record is ``(where, {column: raw value})``."""
    if isinstance(path_or_rows, (str, os.PathLike)):
        source = os.fspath(path_or_rows)
        return source, _csv_records(source)
    if isinstance(path_or_rows, (bytes, Mapping)) or not isinstance(path_or_rows, Iterable):
        raise ValueError(
            "path_or_rows must be a CSV path or an iterable of rows (t_s, device, x_m, y_m), "
            f"got {type(path_or_rows).__name__}"
        )
    return "rows", _row_records(path_or_rows)


def _csv_records(source: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    with open(source, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header: list[str] | None = None
        columns: dict[str, int] = {}
        for row in reader:
            if not any(field.strip() for field in row):
                continue  # blank line
            line = reader.line_num
            if header is None:
                header = [field.strip() for field in row]
                missing = [c for c in _TRACE_COLUMNS if c not in header]
                if missing:
                    raise ValueError(
                        f"{source}: line {line}: missing column(s) "
                        f"{', '.join(repr(c) for c in missing)}; the first line must be a header "
                        f"naming t_s, device, x_m, y_m (any order), got {header}"
                    )
                duplicated = sorted({c for c in _TRACE_COLUMNS if header.count(c) > 1})
                if duplicated:
                    raise ValueError(
                        f"{source}: line {line}: column(s) {duplicated} appear more than once "
                        f"in the header, got {header}"
                    )
                columns = {c: header.index(c) for c in _TRACE_COLUMNS}
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{source}: line {line}: expected {len(header)} fields as in the header "
                    f"{header}, got {len(row)}: {row}"
                )
            yield f"{source}: line {line}", {c: row[k] for c, k in columns.items()}
        if header is None:
            raise ValueError(
                f"{source}: line 1: empty file; a header naming t_s, device, x_m, y_m is required"
            )


def _row_records(rows: Iterable[Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for i, row in enumerate(rows):
        where = f"rows, row {i}"
        if isinstance(row, Mapping):
            missing = [c for c in _TRACE_COLUMNS if c not in row]
            if missing:
                raise ValueError(
                    f"{where}: missing column(s) {', '.join(repr(c) for c in missing)}; "
                    f"need t_s, device, x_m, y_m, got keys {sorted(map(str, row))}"
                )
            yield where, row
            continue
        try:
            values = list(row)
        except TypeError:
            values = []
        if len(values) != len(_TRACE_COLUMNS):
            raise ValueError(
                f"{where}: expected 4 values (t_s, device, x_m, y_m) or a mapping, got {row!r}"
            )
        yield where, dict(zip(_TRACE_COLUMNS, values, strict=True))


def _trace_float(raw: Any) -> float:
    """A CSV cell (or row value) as a float; nan when it is not a number."""
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        if isinstance(text, bool):
            raise TypeError
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _trace_number(where: str, column: str, raw: Any) -> float:
    value = _trace_float(raw)
    if not math.isfinite(value):
        raise ValueError(f"{where}, column {column!r}: expected a finite number, got {raw!r}")
    return value


def _trace_device(where: str, raw: Any) -> int:
    value = _trace_float(raw)
    if not (math.isfinite(value) and value >= 0.0 and value.is_integer()):
        raise ValueError(
            f"{where}, column 'device': expected a device index (integer >= 0), got {raw!r}"
        )
    return int(value)


@MODELS.register("trace")
class Trace(_PathModel):
    """Replay of recorded positions: ``t_s, device, x_m, y_m`` samples, linearly interpolated.

    Between two samples of a device its position is interpolated linearly in time (speed =
    distance / interval, constant on the interval). Before its first sample a device holds
    the first sample's position, after its last sample the last one, at speed 0 (so a
    trace that starts after t = 0 or stops early leaves the device parked there).
    ``travelled_m`` counts the path from t = 0 (samples before t = 0 are allowed: they
    only fix where the device is at t = 0).

    A CSV file needs a header line naming the columns ``t_s, device, x_m, y_m`` (in any
    order; other columns are ignored; blank lines are skipped). Each device's samples must
    appear with strictly increasing t_s (any interleaving of devices), values must be finite
    numbers, and devices must be numbered 0..n-1, each with at least one sample. Violations
    raise ``ValueError`` naming the file, the line and the column.

    Parameters
    ----------
    path_or_rows : str, os.PathLike or iterable
        CSV path, or rows given directly: each a mapping with the four keys or a sequence
        ``(t_s, device, x_m, y_m)`` (errors then name the row index).
    n : int or None
        Number of devices, >= 0; ``None`` = 1 + the largest device index.
    """

    def __init__(self, path_or_rows: Any, n: int | None = None) -> None:
        n_given = None if n is None else _validate.integer("n", n, 0)
        self.source, records = _trace_records(path_or_rows)
        samples: dict[int, list[tuple[float, float, float]]] = {}
        last: dict[int, tuple[float, str]] = {}
        for where, record in records:
            t = _trace_number(where, "t_s", record["t_s"])
            d = _trace_device(where, record["device"])
            x = _trace_number(where, "x_m", record["x_m"])
            y = _trace_number(where, "y_m", record["y_m"])
            if n_given is not None and d >= n_given:
                raise ValueError(
                    f"{where}, column 'device': expected a device index in 0..{n_given - 1} "
                    f"(n={n_given}), got {record['device']!r}"
                )
            if d in last and t <= last[d][0]:
                raise ValueError(
                    f"{where}, column 't_s': times of device {d} must be strictly increasing, "
                    f"got {t!r} after {last[d][0]!r} ({last[d][1]})"
                )
            last[d] = (t, where)
            samples.setdefault(d, []).append((t, x, y))
        if n_given is None and not samples:
            raise ValueError(
                f"{self.source}: no samples; a trace needs at least one row per device"
            )
        self.n = n_given if n_given is not None else max(samples) + 1
        missing = [d for d in range(self.n) if d not in samples]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            raise ValueError(
                f"{self.source}, column 'device': devices must be numbered 0..{self.n - 1}, "
                f"each with at least one sample; missing device(s) {shown}"
            )
        self._tracks = [self._new_track(samples[d]) for d in range(self.n)]
        self._s0 = np.array([track.evaluate(np.zeros(1))[2][0] for track in self._tracks])

    @staticmethod
    def _new_track(rows: list[tuple[float, float, float]]) -> _Track:
        data = np.asarray(rows)
        t, p = data[:, 0], data[:, 1:]
        track = _Track(None, min(t[0], 0.0), p[0])
        knots = [] if t[0] <= 0.0 else [(t[0], p[0, 0], p[0, 1], 0.0)]
        speed = np.hypot(*np.diff(p, axis=0).T) / np.diff(t)
        knots.extend(zip(t[1:], p[1:, 0], p[1:, 1], speed, strict=True))
        knots.append((math.inf, p[-1, 0], p[-1, 1], 0.0))  # hold the last sample forever
        track.extend(knots)
        return track

    def _grow(self, track: _Track) -> None:
        raise AssertionError("a trace track ends at t = inf and never grows")

    def _evaluate(
        self, times: NDArray[np.float64], general: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        pos, speed, dist = super()._evaluate(times, general)
        return pos, speed, dist - self._s0

    def __repr__(self) -> str:
        return f"Trace(n={self.n}, source={self.source!r})"

"""Scenario section: devices (placement, mobility, compute, power)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

import channels.mobility
from fedsl_sim.scenario.base import (
    CoordinateM,
    DistanceM,
    DurationS,
    PositiveFloat,
    SpeedMps,
    _FieldError,
    _Model,
)


# --------------------------------------------------------------------------- devices
class UniformDiscPlacement(_Model):
    """Devices uniform over the annulus min_distance_m <= r <= radius_m around the BS."""

    kind: Literal["uniform_disc"]
    radius_m: DistanceM = 300.0
    min_distance_m: Annotated[float, Field(ge=0, le=1.0e6)] = 10.0

    @model_validator(mode="after")
    def _annulus(self) -> UniformDiscPlacement:
        if self.min_distance_m >= self.radius_m:
            raise _FieldError(
                ("min_distance_m",),
                f"expected min_distance_m < radius_m ({self.radius_m}), got {self.min_distance_m}",
            )
        return self


class FixedPlacement(_Model):
    """Explicit device positions in metres, BS at the origin."""

    kind: Literal["fixed"]
    positions_m: tuple[tuple[CoordinateM, CoordinateM], ...]


PlacementConfig = Annotated[UniformDiscPlacement | FixedPlacement, Field(discriminator="kind")]


def _existing_file(path: str, info: ValidationInfo) -> str:
    """``path`` resolved against the scenario file's folder; it must exist."""
    base = (info.context or {}).get("base_dir")
    p = Path(path)
    if not p.is_absolute() and base is not None:
        p = Path(base) / p
    if not p.is_file():
        raise ValueError(f"expected an existing CSV file, got {str(p)!r}")
    return str(p)


class MobilityParams(_Model):
    """Base of a ``devices.mobility`` block: the parameter model of a mobility model of
    ``channels.mobility.MODELS`` (discriminator ``kind``)."""

    def max_speed_mps(self) -> float:
        """The fastest speed a device reaches, m/s (sets the sampling of continuous
        fading)."""
        return 0.0

    def mobility_params(
        self,
        n: int,
        start_m: Any,
        movement_radius_m: float | None,
        rng: Any,
    ) -> dict[str, Any]:
        """The keyword arguments of the registered model for ``n`` devices starting at
        ``start_m`` ((n, 2), m), drawing from ``rng``: by default the block's fields under
        their own names."""
        return {"n": n, "rng": rng, **self.model_dump(exclude={"kind"})}


class StaticMobility(MobilityParams):
    """Devices that never move (they stay where the placement put them)."""

    kind: Literal["static"]

    def mobility_params(
        self, n: int, start_m: Any, movement_radius_m: float | None, rng: Any
    ) -> dict[str, Any]:
        return {"positions_m": start_m}


SpeedRange = tuple[SpeedMps, SpeedMps]
BlockCount = Annotated[int, Field(ge=1, le=1000)]


def _check_speed_range(speed: SpeedRange) -> None:
    lo, hi = speed
    if hi < lo:
        raise _FieldError(("speed_mps",), f"expected [low, high] with low <= high, got {[lo, hi]}")


class _DiscMobility(MobilityParams):
    """Movement inside a disc of ``radius_m`` around the base station (default: the placement
    disc; required with fixed placement)."""

    radius_m: DistanceM | None = None

    def mobility_params(
        self, n: int, start_m: Any, movement_radius_m: float | None, rng: Any
    ) -> dict[str, Any]:
        # devices move in the movement disc, from their start (unless drawn from the
        # stationary regime)
        params = self.model_dump(exclude={"kind", "radius_m"})
        params["radius_m"] = movement_radius_m
        if not getattr(self, "stationary_start", False):
            params["initial_positions_m"] = start_m
        return {"n": n, "rng": rng, **params}


class _RangedSpeed(MobilityParams):
    """Movement at speeds drawn in ``speed_mps`` = [low, high] m/s."""

    speed_mps: SpeedRange = (1.0, 3.0)

    @model_validator(mode="after")
    def _speed_range(self) -> _RangedSpeed:
        _check_speed_range(self.speed_mps)
        return self

    def max_speed_mps(self) -> float:
        return self.speed_mps[1]


class RandomWaypointMobility(_DiscMobility, _RangedSpeed):
    """Random waypoint: legs to uniform waypoints at a uniform speed, pausing ``pause_s``.
    ``stationary_start`` starts in the stationary regime (Le Boudec & Vojnović): positions,
    phases and speeds drawn from it, the placement ignored."""

    kind: Literal["random_waypoint"]
    pause_s: Annotated[float, Field(ge=0, le=1.0e9)] = 0.0
    stationary_start: bool = False


class RandomDirectionMobility(_DiscMobility, _RangedSpeed):
    """Random direction with reflection at the border (uniform density): straight epochs of
    ``travel_s`` seconds (or, when null, to the border), pausing ``pause_s``."""

    kind: Literal["random_direction"]
    pause_s: Annotated[float, Field(ge=0, le=1.0e9)] = 0.0
    travel_s: DurationS | None = 30.0


class GaussMarkovMobility(_DiscMobility):
    """Gauss–Markov (Liang & Haas 1999): speed and direction updated every ``update_s`` with
    memory ``alpha`` (0 = random walk, 1 = straight line); ``border`` reflect or steer."""

    kind: Literal["gauss_markov"]
    mean_speed_mps: SpeedMps = 2.0
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.75
    update_s: DurationS = 1.0
    speed_std_mps: Annotated[float, Field(ge=0, le=1.0e3)] | None = None
    border: Literal["reflect", "steer"] = "reflect"

    def max_speed_mps(self) -> float:
        std = self.speed_std_mps if self.speed_std_mps is not None else self.mean_speed_mps / 4
        return self.mean_speed_mps + 4 * std


class ManhattanGridMobility(_RangedSpeed):
    """Manhattan grid (ETSI TR 101 112): streets every ``block_m`` on an ``n_blocks`` grid
    centred on the base station; turns with ``turn_probs`` (straight, left, right). Devices
    start on the streets (the placement is ignored)."""

    kind: Literal["manhattan_grid"]
    block_m: DistanceM = 100.0
    n_blocks: tuple[BlockCount, BlockCount] = (4, 4)
    turn_probs: tuple[
        Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]
    ] = (0.5, 0.25, 0.25)

    @model_validator(mode="after")
    def _valid(self) -> ManhattanGridMobility:
        if not math.isclose(sum(self.turn_probs), 1.0, abs_tol=1e-9):
            raise _FieldError(
                ("turn_probs",), f"expected probabilities summing to 1, got {list(self.turn_probs)}"
            )
        return self

    @property
    def half_extent_m(self) -> tuple[float, float]:
        return (self.n_blocks[0] * self.block_m / 2, self.n_blocks[1] * self.block_m / 2)

    def mobility_params(
        self, n: int, start_m: Any, movement_radius_m: float | None, rng: Any
    ) -> dict[str, Any]:
        hx, hy = self.half_extent_m  # the grid is centred on the base station
        return {
            **super().mobility_params(n, start_m, movement_radius_m, rng),
            "origin_m": (-hx, -hy),
        }


class TraceMobility(MobilityParams):
    """Positions replayed from a CSV file with columns ``t_s, device, x_m, y_m`` (metres, BS at
    the origin; linear interpolation; held before the first and after the last sample). A
    relative ``path`` is relative to the scenario file. The placement is ignored."""

    kind: Literal["trace"]
    path: str
    max_speed_mps_hint: PositiveFloat | None = None

    @field_validator("path")
    @classmethod
    def _resolve(cls, path: str, info: ValidationInfo) -> str:
        return _existing_file(path, info)

    def max_speed_mps(self) -> float:
        return self.max_speed_mps_hint or 0.0

    def mobility_params(
        self, n: int, start_m: Any, movement_radius_m: float | None, rng: Any
    ) -> dict[str, Any]:
        return {"path_or_rows": self.path, "n": n}


MobilityConfig = Annotated[
    StaticMobility
    | RandomWaypointMobility
    | RandomDirectionMobility
    | GaussMarkovMobility
    | ManhattanGridMobility
    | TraceMobility,
    Field(discriminator="kind"),
]


class UniformRange(_Model):
    """A per-device value drawn uniformly in [``low``, ``high``] (seeded, stream ``compute``)."""

    low: Annotated[float, Field(ge=0)]
    high: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered(self) -> UniformRange:
        if self.high < self.low:
            raise _FieldError(("high",), f"expected high >= low ({self.low:g}), got {self.high:g}")
        return self


#: one value for every device, a list with one value per device, or a uniform range
PerDevice = float | list[float] | UniformRange


def per_device_bounds(value: PerDevice) -> tuple[float, float]:
    """The smallest and largest value a per-device field can take."""
    if isinstance(value, UniformRange):
        return value.low, value.high
    if isinstance(value, list):
        return min(value), max(value)
    return value, value


class DeviceCompute(_Model):
    """Device compute with a clock (DVFS) model: a computation of F FLOPs takes

        cycles = F / flops_per_cycle,  time = cycles / cpu_hz,  energy = kappa · cycles · cpu_hz²

    so twice the clock is half the time and four times the energy. Each field is one value,
    a list with one value per device, or ``{low, high}`` drawn uniformly per device."""

    cpu_hz: PerDevice = 1.0e9
    flops_per_cycle: PerDevice = 5.0
    kappa: PerDevice = 1.0e-28

    #: valid range of each field (inclusive), with its unit
    LIMITS: ClassVar[dict[str, tuple[float, float, str]]] = {
        "cpu_hz": (1.0e6, 1.0e11, "Hz"),
        "flops_per_cycle": (1.0e-3, 1.0e6, "FLOP per cycle"),
        "kappa": (0.0, 1.0e-20, "J/(cycle·Hz²)"),
    }

    @model_validator(mode="before")
    @classmethod
    def _no_flops_per_s(cls, data: Any) -> Any:
        if isinstance(data, dict) and "flops_per_s" in data:
            raise _FieldError(
                ("flops_per_s",),
                "was replaced by flops_per_cycle: compute time is FLOPs / (flops_per_cycle · "
                "cpu_hz); set flops_per_cycle = flops_per_s / cpu_hz (e.g. 5e9 FLOP/s at "
                "1e9 Hz is flops_per_cycle: 5)",
            )
        return data

    @model_validator(mode="after")
    def _in_range(self) -> DeviceCompute:
        for name, (lo, hi, unit) in self.LIMITS.items():
            a, b = per_device_bounds(getattr(self, name))
            if a < lo or b > hi or (name != "kappa" and a <= 0):
                raise _FieldError(
                    (name,), f"expected values in [{lo:g}, {hi:g}] {unit}, got {a:g}..{b:g}"
                )
        return self


class DevicesConfig(_Model):
    """The devices: how many, where they start, how they move, compute and transmit."""

    count: Annotated[int, Field(ge=1, le=100_000)] = 10
    placement: PlacementConfig = UniformDiscPlacement(kind="uniform_disc")
    mobility: MobilityConfig = StaticMobility(kind="static")
    compute: DeviceCompute = DeviceCompute()
    tx_power_dbm: Annotated[float, Field(ge=-50, le=60)] = 23.0

    @model_validator(mode="after")
    def _consistent(self) -> DevicesConfig:
        for name in DeviceCompute.LIMITS:
            value = getattr(self.compute, name)
            if isinstance(value, list) and len(value) != self.count:
                raise _FieldError(
                    ("compute", name),
                    f"expected one value per device ({self.count}, devices.count), "
                    f"got {len(value)}",
                )
        if isinstance(self.placement, FixedPlacement):
            if len(self.placement.positions_m) != self.count:
                raise _FieldError(
                    ("placement", "positions_m"),
                    f"expected {self.count} positions (devices.count), "
                    f"got {len(self.placement.positions_m)}",
                )
            if isinstance(self.mobility, _DiscMobility) and self.mobility.radius_m is None:
                raise _FieldError(
                    ("mobility", "radius_m"),
                    "expected a radius (fixed placement has no disc to move in), got none",
                )
        if isinstance(self.mobility, _DiscMobility) and self.mobility.radius_m is not None:
            if isinstance(self.placement, FixedPlacement):
                farthest = max(math.hypot(x, y) for x, y in self.placement.positions_m)
            else:
                farthest = self.placement.radius_m
            if farthest > self.mobility.radius_m:
                raise _FieldError(
                    ("mobility", "radius_m"),
                    f"expected a disc containing every start position (radius >= "
                    f"{farthest:g} m), got {self.mobility.radius_m:g}",
                )
        return self

    @property
    def movement_radius_m(self) -> float | None:
        """Radius of the disc devices move in (disc-bounded mobility), else None."""
        if not isinstance(self.mobility, _DiscMobility):
            return None
        if self.mobility.radius_m is not None:
            return self.mobility.radius_m
        assert isinstance(self.placement, UniformDiscPlacement)
        return self.placement.radius_m


class ServerConfig(_Model):
    """Edge server co-located with the base station."""

    flops_per_s: Annotated[float, Field(ge=1.0e3, le=1.0e18)] = 1.0e13
    workers: Annotated[int, Field(ge=1, le=100_000)] = 1
    tx_power_dbm: Annotated[float, Field(ge=-50, le=80)] = 43.0


for _name, _params in (
    ("static", StaticMobility),
    ("random_waypoint", RandomWaypointMobility),
    ("random_direction", RandomDirectionMobility),
    ("gauss_markov", GaussMarkovMobility),
    ("manhattan_grid", ManhattanGridMobility),
    ("trace", TraceMobility),
):
    channels.mobility.MODELS.declare_params(_name, _params)

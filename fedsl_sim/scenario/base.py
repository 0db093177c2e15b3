"""Base model, errors and the unit-named numeric types of the scenario schema."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from fedsl_sim.errors import ScenarioError, _rebuild_input_error  # noqa: F401
from fedsl_sim.schemes.registry import SHIPPED_SCHEMES as SCHEMES  # noqa: F401


class _FieldError(ValueError):
    """A cross-field violation pointing at a sub-field of the model being validated."""

    def __init__(self, loc: tuple[str, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.loc, str(self)))


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is a number, or a union or list/tuple of numbers (never bool)."""
    if annotation is bool:
        return False
    if annotation in (int, float):
        return True
    meta_origin = getattr(annotation, "__origin__", None)
    if meta_origin is not None and hasattr(annotation, "__metadata__"):  # Annotated[...]
        return _numeric(meta_origin)
    args = getattr(annotation, "__args__", None) or ()
    return any(_numeric(a) for a in args if a is not type(None) and a is not Ellipsis)


def _bool_inside(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, list | tuple):
        return any(_bool_inside(v) for v in value)
    return False


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, data: Any) -> Any:
        """``true``/``false`` are not numbers: pydantic would read them as 1/0."""
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name) if isinstance(name, str) else None
                if field is not None and _numeric(field.annotation) and _bool_inside(value):
                    raise _FieldError(
                        (name,), f"expected numbers, got a boolean (true/false) in {value!r}"
                    )
        return data


PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction01 = Annotated[float, Field(ge=0, lt=1)]
# Physical ranges (inclusive): anything outside is a typo or a unit error, and the arithmetic
# of the models stays finite inside them.
#: a band, Hz: 1 kHz - 100 GHz
BandwidthHz = Annotated[float, Field(ge=1.0e3, le=1.0e11)]
#: a carrier frequency, Hz: 1 MHz - 1 THz
CarrierHz = Annotated[float, Field(ge=1.0e6, le=1.0e12)]
#: a distance or radius, m: at most 1,000 km
DistanceM = Annotated[float, Field(gt=0, le=1.0e6)]
#: a speed, m/s: at most 1,000
SpeedMps = Annotated[float, Field(gt=0, le=1.0e3)]
#: a channel block or sample, s: 1 us - 1,000 s
BlockS = Annotated[float, Field(ge=1.0e-6, le=1.0e3)]
#: a duration, s: at most 1e9 (about 32 years)
DurationS = Annotated[float, Field(gt=0, le=1.0e9)]
#: a coordinate, m: within 1,000 km of the origin
CoordinateM = Annotated[float, Field(ge=-1.0e6, le=1.0e6)]

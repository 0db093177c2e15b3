"""Large-scale path-loss models behind one protocol, and their registry.

A model is built by name (``make("log_distance", fc_hz=3.5e9, exponent=3.5)``); callers use
the public ``loss_db`` / ``los_probability``, subclasses override ``_loss_db`` (and
``los_probability`` when they distinguish LOS from NLOS). Adding a model is one subclass plus
``@MODELS.register("name")``.

Models: ``free_space``, ``log_distance``, ``macro_36814`` (TR 36.814), and the TR 38.901 §7.4
``rma``, ``uma``, ``umi`` (Street Canyon), ``inh`` (Office), whose coefficients live in the
read-only tables :data:`TR38901` and :data:`TR36814_MACRO` (:mod:`channels.pathloss_tables`).
:class:`LosState` (:mod:`channels.los`) keeps a spatially consistent LOS/NLOS state per link.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from channels.los import LosState
from channels.pathloss_tables import (
    _HZ_PER_GHZ,
    SPEED_OF_LIGHT_3GPP_MPS,
    TR36814_MACRO,
    TR38901,
)
from channels.units import SPEED_OF_LIGHT_MPS
from fedsl_registry import Registry

__all__ = [
    "MODELS",
    "SPEED_OF_LIGHT_3GPP_MPS",
    "TR36814_MACRO",
    "TR38901",
    "FreeSpace",
    "InH",
    "LogDistance",
    "LosState",
    "Macro36814",
    "PathLossModel",
    "RMa",
    "ThreeGppPathLoss",
    "UMa",
    "UMi",
    "friis_loss_db",
    "make",
]

MODELS: Registry[PathLossModel] = Registry("path-loss model")


def make(name: str, /, **params: Any) -> PathLossModel:
    """Build the path-loss model registered as ``name`` (see ``MODELS.names()``)."""
    return MODELS.make(name, **params)


def friis_loss_db(d_m: ArrayLike, fc_hz: float) -> Any:
    """Free-space (Friis) loss ``20·log10(4π·d·fc / c)``, dB, without any distance clamp.

    ``d_m`` in metres (> 0), ``fc_hz`` in Hz (> 0).
    """
    d = np.asarray(d_m, dtype=np.float64)
    return 20.0 * np.log10(4.0 * np.pi * d * fc_hz / SPEED_OF_LIGHT_MPS)


class PathLossModel:
    """Base class: distance -> path loss in dB.

    Subclasses implement ``_loss_db``; the public ``loss_db`` validates the distances first.
    """

    def loss_db(self, d2d_m: ArrayLike, los: ArrayLike = True) -> NDArray[np.float64]:
        """Path loss, dB (positive = attenuation).

        Parameters
        ----------
        d2d_m : float or array
            Horizontal transmitter-receiver distance, metres, >= 0 (see each model for the
            clamp applied at short range).
        los : bool or bool array
            Line-of-sight state, broadcast against ``d2d_m``; ignored by models that do not
            distinguish LOS and NLOS.

        Returns
        -------
        ndarray
            Same shape as ``d2d_m`` (0-d for a scalar), dB.
        """
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        return np.asarray(self._loss_db(d, np.asarray(los, dtype=bool)), dtype=np.float64)

    def _loss_db(self, d2d_m: NDArray[np.float64], los: NDArray[np.bool_]) -> Any:
        raise NotImplementedError

    def los_probability(self, d2d_m: ArrayLike) -> NDArray[np.float64]:
        """Probability of line of sight at horizontal distance ``d2d_m`` (metres, >= 0).

        Returns an array of ``d2d_m``'s shape; 1.0 everywhere for models without LOS/NLOS.
        """
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        return np.ones_like(d)


@MODELS.register("free_space")
class FreeSpace(PathLossModel):
    """Friis free-space loss ``PL(d) = 20·log10(4π·d·fc / c)`` dB.

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, > 0.

    Distances below ``MIN_DISTANCE_M`` (1 m) are clamped to 1 m: the far-field formula
    would otherwise predict a gain (negative loss) and -inf at 0 m.
    """

    MIN_DISTANCE_M = 1.0

    def __init__(self, fc_hz: float) -> None:
        self.fc_hz = _validate.positive("fc_hz", fc_hz)

    def _loss_db(self, d2d_m: NDArray[np.float64], los: NDArray[np.bool_]) -> Any:
        return friis_loss_db(np.maximum(d2d_m, self.MIN_DISTANCE_M), self.fc_hz)

    def __repr__(self) -> str:
        return f"FreeSpace(fc_hz={self.fc_hz!r})"


@MODELS.register("log_distance")
class LogDistance(PathLossModel):
    """Log-distance loss ``PL(d) = PL0 + 10·n·log10(d / d0)`` dB.

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, > 0 (used for the default ``pl0_db``).
    exponent : float
        Path-loss exponent n, > 0 (2 = free space, 2.7-3.5 urban, 3-5 shadowed urban).
    d0_m : float
        Reference distance, metres, > 0. Distances below d0 are clamped to d0 (the model is
        only valid in the far field beyond the reference distance).
    pl0_db : float or None
        Loss at d0, dB; ``None`` = free-space (Friis) loss at d0 and ``fc_hz``.
    """

    def __init__(
        self, fc_hz: float, exponent: float, d0_m: float = 1.0, pl0_db: float | None = None
    ) -> None:
        self.fc_hz = _validate.positive("fc_hz", fc_hz)
        self.exponent = _validate.positive("exponent", exponent)
        self.d0_m = _validate.positive("d0_m", d0_m)
        self.pl0_db = (
            float(friis_loss_db(self.d0_m, self.fc_hz))
            if pl0_db is None
            else _validate.finite("pl0_db", pl0_db)
        )

    def _loss_db(self, d2d_m: NDArray[np.float64], los: NDArray[np.bool_]) -> Any:
        d = np.maximum(d2d_m, self.d0_m)
        return self.pl0_db + 10.0 * self.exponent * np.log10(d / self.d0_m)

    def __repr__(self) -> str:
        return (
            f"LogDistance(fc_hz={self.fc_hz!r}, exponent={self.exponent!r}, "
            f"d0_m={self.d0_m!r}, pl0_db={self.pl0_db!r})"
        )


# --------------------------------------------------------------------------------------------
# 3GPP TR 36.814 macro-cell model
# --------------------------------------------------------------------------------------------


@MODELS.register("macro_36814")
class Macro36814(PathLossModel):
    """3GPP TR 36.814 macro-cell loss ``PL = 128.1 + 37.6·log10(d / 1 km)`` dB.

    The model of TR 36.814 Table A.2.1.1.2-3 (macro-cell model 1; NLOS urban/suburban macro,
    2 GHz carrier, BS antenna 15 m above the average rooftop; it has no LOS branch, so the
    ``los`` flag is ignored and ``los_probability`` is 1). Coefficients: :data:`TR36814_MACRO`.

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, > 0. At the 2 GHz of TR 36.814 the formula is the standard's
        exactly; at another carrier ``21·log10(fc / 2 GHz)`` dB is added, the frequency term
        of the TR 36.942 §4.5.2 formula that 36.814's is the 2 GHz case of (TR 36.942 gives
        120.9 + 37.6·log10(R) at 900 MHz; this gives 120.8). Carriers far from 0.9-2 GHz are
        an extrapolation.

    Distances below 35 m (TR 36.814 Table A.2.1.1-1: minimum UE-to-cell distance) are clamped
    to 35 m; there the loss, 73.35 dB, is still above free space (69.4 dB at 2 GHz).
    """

    def __init__(self, fc_hz: float = 2.0e9) -> None:
        self.fc_hz = _validate.positive("fc_hz", fc_hz)

    def _loss_db(self, d2d_m: NDArray[np.float64], los: NDArray[np.bool_]) -> Any:
        c = TR36814_MACRO
        d_km = np.maximum(d2d_m, c["min_distance_m"]) / c["metres_per_km"]
        return (
            c["pl_1km_db"]
            + c["slope_db_per_decade"] * np.log10(d_km)
            + c["fc_slope_db_per_decade"] * np.log10(self.fc_hz / c["fc_ref_hz"])
        )

    def __repr__(self) -> str:
        return f"Macro36814(fc_hz={self.fc_hz!r})"


# --------------------------------------------------------------------------------------------
# 3GPP TR 38.901 §7.4.1 (Table 7.4.1-1) path loss, §7.4.2 (Table 7.4.2-1) LOS probability
# --------------------------------------------------------------------------------------------


def _in_range(name: str, value: Any, bounds: tuple[float, float], unit: str, what: str) -> float:
    x = _validate.finite(name, value)
    lo, hi = bounds
    if not lo <= x <= hi:
        allowed = f"{lo:g} {unit}" if lo == hi else f"in [{lo:g}, {hi:g}] {unit}"
        raise ValueError(f"{name} must be {allowed} for {what}, got {value!r}")
    return x


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool (True or False), got {value!r}")
    return bool(value)


def _loglin_db(c: Mapping[str, float], d3d_m: Any, fc_ghz: float, h_ut_m: float = 0.0) -> Any:
    """``a + b·log10(d3D) + c·log10(fc/GHz) [+ d·(h_UT - h_ut_ref_m)]`` with the table's a..d."""
    out = c["a"] + c["b"] * np.log10(d3d_m) + c["c"] * math.log10(fc_ghz)
    if "d" in c:
        out = out + c["d"] * (h_ut_m - c["h_ut_ref_m"])
    return out


class ThreeGppPathLoss(PathLossModel):
    """Base of the TR 38.901 §7.4.1 models (Table 7.4.1-1): LOS/NLOS loss, validity, SF data.

    The loss uses the 3-D distance ``d3D = sqrt(d2D² + (h_BS - h_UT)²)``; the NLOS loss is
    ``max(PL_LOS, PL'_NLOS)`` (also with ``simplified_nlos``, see the subclasses). Distances are
    checked against the validity range of the formula of each link's LOS state
    (:meth:`d2d_range_m`): outside it ``loss_db`` raises ``ValueError`` unless the model was
    built with ``clamp=True``, in which case each distance is clamped into the range of its
    state (so the loss is constant below the minimum and beyond the maximum distance).
    Heights and frequency are always checked at construction, clamp or not.
    No shadowing is included; its std and correlation distance are given by
    :meth:`shadowing_std_db` and :meth:`shadowing_corr_distance_m`.
    """

    SCENARIO: ClassVar[str] = ""
    NAME: ClassVar[str] = ""

    def __init__(self, fc_hz: float, h_bs_m: float, h_ut_m: float, *, clamp: bool = False) -> None:
        p = TR38901[self.SCENARIO]
        self._p = p
        what = f"TR 38.901 {self.NAME}"
        self.fc_hz = _in_range("fc_hz", fc_hz, p["fc_range_hz"], "Hz", what)
        self.h_bs_m = (
            _in_range("h_bs_m", h_bs_m, p["h_bs_range_m"], "m", what)
            if "h_bs_range_m" in p
            else _validate.positive("h_bs_m", h_bs_m)
        )
        self.h_ut_m = (
            _in_range("h_ut_m", h_ut_m, p["h_ut_range_m"], "m", what)
            if "h_ut_range_m" in p
            else _validate.positive("h_ut_m", h_ut_m)
        )
        self.clamp = _flag("clamp", clamp)
        self.los_corr_distance_m: float = float(p["los_corr_distance_m"])
        """Correlation distance of the LOS/NLOS state, m (TR 38.901 Table 7.6.3.1-2)."""

    @property
    def _fc_ghz(self) -> float:
        return self.fc_hz / _HZ_PER_GHZ

    def d2d_range_m(self, los: bool) -> tuple[float, float]:
        """Validity range ``(min, max)`` of d2D, metres, of the LOS or the NLOS formula."""
        state = "los" if los else "nlos"
        if "d2d_range_m" in self._p:
            lo, hi = self._p["d2d_range_m"][state]
            return float(lo), float(hi)
        lo3, hi3 = self._p["d3d_range_m"][state]
        dh2 = (self.h_bs_m - self.h_ut_m) ** 2
        return math.sqrt(max(lo3**2 - dh2, 0.0)), math.sqrt(max(hi3**2 - dh2, 0.0))

    def loss_db(self, d2d_m: ArrayLike, los: ArrayLike = True) -> NDArray[np.float64]:
        """Path loss, dB, of Table 7.4.1-1 (no shadowing).

        Parameters
        ----------
        d2d_m : float or array
            Horizontal BS-UT distance, metres, >= 0, inside :meth:`d2d_range_m` of each
            element's state unless ``clamp=True``.
        los : bool or bool array
            LOS state, broadcast against ``d2d_m``.

        Returns
        -------
        ndarray
            Broadcast shape of ``d2d_m`` and ``los`` (0-d for scalars), dB.
        """
        return super().loss_db(d2d_m, los)

    def _loss_db(self, d2d_m: NDArray[np.float64], los: NDArray[np.bool_]) -> Any:
        return self._evaluate(d2d_m, los, self._p.get("h_e_m", 0.0))

    def _evaluate(
        self, d2d_m: NDArray[np.float64], los: ArrayLike, h_e_m: ArrayLike
    ) -> NDArray[np.float64]:
        d, is_los, h_e = np.broadcast_arrays(d2d_m, np.asarray(los, dtype=bool), h_e_m)
        d = self._checked_distance(d, is_los)
        d3d = np.hypot(d, self.h_bs_m - self.h_ut_m)
        pl_los = self._los_db(d, d3d, h_e)
        pl_nlos = np.maximum(pl_los, self._nlos_db(d, d3d))
        return np.asarray(np.where(is_los, pl_los, pl_nlos), dtype=np.float64)

    def _checked_distance(
        self, d2d_m: NDArray[np.float64], los: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        (lo_l, hi_l), (lo_n, hi_n) = self.d2d_range_m(True), self.d2d_range_m(False)
        lo = np.where(los, lo_l, lo_n)
        hi = np.where(los, hi_l, hi_n)
        if self.clamp:
            return np.clip(d2d_m, lo, hi)
        bad = (d2d_m < lo) | (d2d_m > hi)
        if np.any(bad):
            i = np.flatnonzero(bad)[0]
            state = "LOS" if los.flat[i] else "NLOS"
            raise ValueError(
                f"d2d_m must be in [{lo.flat[i]:g}, {hi.flat[i]:g}] m for TR 38.901 {self.NAME} "
                f"{state}, got {float(d2d_m.flat[i])!r}"
                + (f" (and {int(bad.sum()) - 1} more out of range)" if bad.sum() > 1 else "")
                + "; build the model with clamp=True to clamp distances into range"
            )
        return d2d_m

    def _los_db(self, d2d_m: Any, d3d_m: Any, h_e_m: Any) -> Any:
        raise NotImplementedError

    def _nlos_db(self, d2d_m: Any, d3d_m: Any) -> Any:
        raise NotImplementedError

    def _breakpoint_m(self, h_e_m: Any = 0.0) -> Any:
        """d_BP (RMa, h_E = 0) or d'_BP = 4·(h_BS - h_E)·(h_UT - h_E)·fc/c, metres."""
        return (
            self._p["bp_factor"]
            * (self.h_bs_m - h_e_m)
            * (self.h_ut_m - h_e_m)
            * self.fc_hz
            / SPEED_OF_LIGHT_3GPP_MPS
        )

    def _std_table(self) -> Mapping[str, float]:
        return cast(Mapping[str, float], self._p["sf_std_db"])

    def shadowing_std_db(
        self, los: ArrayLike, d2d_m: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Shadow-fading standard deviation σ_SF, dB, of Table 7.4.1-1 for each LOS state.

        ``d2d_m`` (metres) is only needed by RMa LOS, whose σ_SF changes at the breakpoint;
        the result has the broadcast shape of ``los`` (and ``d2d_m`` when given).
        """
        is_los = np.asarray(los, dtype=bool)
        if d2d_m is not None:
            d = _validate.nonnegative_array("d2d_m", d2d_m)
            is_los = np.broadcast_arrays(is_los, d)[0]
        s = self._std_table()
        nlos_key = "nlos_simplified" if getattr(self, "simplified_nlos", False) else "nlos"
        return np.where(is_los, s["los"], s[nlos_key]).astype(np.float64)

    def shadowing_corr_distance_m(self, los: ArrayLike) -> NDArray[np.float64]:
        """Shadow-fading correlation distance, metres, Table 7.5-6 part 1, per LOS state."""
        c = self._p["sf_corr_distance_m"]
        out = np.where(np.asarray(los, dtype=bool), c["los"], c["nlos"]).astype(np.float64)
        return cast(NDArray[np.float64], out)


def _umx_g(p: Mapping[str, Any], d2d_m: NDArray[np.float64]) -> NDArray[np.float64]:
    """g(d2D) of TR 38.901 Table 7.4.1-1 note 1 (also in the UMa LOS probability)."""
    g = p["g"]
    return np.where(
        d2d_m > g["d0_m"],
        g["scale"] * (d2d_m / g["ref_m"]) ** 3 * np.exp(-d2d_m / g["decay_m"]),
        0.0,
    )


def _umx_p_los(p: Mapping[str, Any], d2d_m: NDArray[np.float64]) -> NDArray[np.float64]:
    """18/d + exp(-d/d2)·(1 - 18/d) beyond d1 = 18 m, 1 below (UMi; UMa before C')."""
    q = p["p_los"]
    d = np.maximum(d2d_m, q["d1_m"])  # the formula equals 1 at d1: no branch needed below
    return cast(NDArray[np.float64], q["d1_m"] / d + np.exp(-d / q["d2_m"]) * (1.0 - q["d1_m"] / d))


class _UrbanPathLoss(ThreeGppPathLoss):
    """UMa / UMi-Street Canyon: PL1 below the breakpoint d'_BP, PL2 beyond; NLOS formula."""

    def __init__(
        self,
        fc_hz: float,
        h_bs_m: float,
        h_ut_m: float,
        *,
        simplified_nlos: bool = False,
        clamp: bool = False,
    ) -> None:
        super().__init__(fc_hz, h_bs_m, h_ut_m, clamp=clamp)
        self.simplified_nlos = _flag("simplified_nlos", simplified_nlos)

    def _los_db(self, d2d_m: Any, d3d_m: Any, h_e_m: Any) -> Any:
        d_bp = self._breakpoint_m(h_e_m)
        near = _loglin_db(self._p["los_near"], d3d_m, self._fc_ghz)
        far_c = self._p["los_far"]
        far = _loglin_db(far_c, d3d_m, self._fc_ghz) - far_c["e"] * np.log10(
            d_bp**2 + (self.h_bs_m - self.h_ut_m) ** 2
        )
        return np.where(d2d_m <= d_bp, near, far)

    def _nlos_db(self, d2d_m: Any, d3d_m: Any) -> Any:
        key = "nlos_simplified" if self.simplified_nlos else "nlos"
        return _loglin_db(self._p[key], d3d_m, self._fc_ghz, self.h_ut_m)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(fc_hz={self.fc_hz!r}, h_bs_m={self.h_bs_m!r}, "
            f"h_ut_m={self.h_ut_m!r}, simplified_nlos={self.simplified_nlos!r}, "
            f"clamp={self.clamp!r})"
        )


@MODELS.register("uma")
class UMa(_UrbanPathLoss):
    """TR 38.901 Urban Macro (UMa) path loss and LOS probability.

    LOS: ``PL1 = 28 + 22·log10(d3D) + 20·log10(fc)`` for 10 m <= d2D <= d'_BP,
    ``PL2 = 28 + 40·log10(d3D) + 20·log10(fc) - 9·log10(d'_BP² + (h_BS - h_UT)²)`` for
    d'_BP <= d2D <= 5 km (σ_SF = 4 dB). NLOS: ``max(PL_LOS, PL')``,
    ``PL' = 13.54 + 39.08·log10(d3D) + 20·log10(fc) - 0.6·(h_UT - 1.5)``, 10 m <= d2D <= 5 km
    (σ_SF = 6 dB); with ``simplified_nlos`` the optional
    ``PL' = 32.4 + 20·log10(fc) + 30·log10(d3D)`` (σ_SF = 7.8 dB). fc in GHz, d in m.
    ``d'_BP = 4·(h_BS - h_E)·(h_UT - h_E)·fc/c``; the effective environment height h_E is 1 m
    unless per-link values are passed to :meth:`loss_db` (see :meth:`sample_h_e_m`).

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, in [0.5, 100] GHz.
    h_bs_m : float
        BS height, m: the table fixes 25 m for UMa.
    h_ut_m : float
        UT height, m, in [1.5, 22.5].
    simplified_nlos : bool
        Use the optional NLOS formula (still bounded below by the LOS loss).
    clamp : bool
        Clamp distances into the validity range instead of raising ``ValueError``.
    """

    SCENARIO = "uma"
    NAME = "UMa"

    def __init__(
        self,
        fc_hz: float,
        h_bs_m: float = 25.0,
        h_ut_m: float = 1.5,
        *,
        simplified_nlos: bool = False,
        clamp: bool = False,
    ) -> None:
        super().__init__(fc_hz, h_bs_m, h_ut_m, simplified_nlos=simplified_nlos, clamp=clamp)

    def loss_db(
        self, d2d_m: ArrayLike, los: ArrayLike = True, h_e_m: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Path loss, dB (see :meth:`ThreeGppPathLoss.loss_db`).

        ``h_e_m`` : effective environment height per link, metres, broadcast against
        ``d2d_m``, each in [0, h_UT); ``None`` = the deterministic 1 m. Draw it once per
        link with :meth:`sample_h_e_m` and pass the same values on each call to keep a
        link's breakpoint fixed.
        """
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        if h_e_m is None:
            return self._evaluate(d, los, self._p["h_e_m"])
        h_e = _validate.nonnegative_array("h_e_m", h_e_m)
        if np.any(h_e >= self.h_ut_m):
            raise ValueError(
                f"h_e_m must be in [0, h_ut_m) = [0, {self.h_ut_m:g}) m elementwise, "
                f"got {float(h_e[h_e >= self.h_ut_m].flat[0])!r}"
            )
        return self._evaluate(d, los, h_e)

    def _c_factor(self) -> float:
        """((h_UT - 13)/10)^1.5 above 13 m, else 0: C(d2D, h_UT)/g(d2D) and C'(h_UT)."""
        c = self._p["c"]
        if self.h_ut_m <= c["h0_m"]:
            return 0.0
        return float(((self.h_ut_m - c["h0_m"]) / c["scale_m"]) ** c["exp"])

    def sample_h_e_m(self, d2d_m: ArrayLike, rng: np.random.Generator) -> NDArray[np.float64]:
        """Draw the effective environment height h_E per link, metres (Table 7.4.1-1 note 1).

        ``h_E = 1 m`` with probability ``1 / (1 + C(d2D, h_UT))``, otherwise uniform on
        ``{12, 15, ..., h_UT - 1.5}`` m (just {12} for 13 <= h_UT < 13.5 m, as in ns-3).
        For h_UT < 13 m, C = 0: returns ones without consuming randomness. Shape of ``d2d_m``.
        """
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        _validate.generator("rng", rng)
        c = self._c_factor()
        if c == 0.0:
            return np.ones_like(d)
        q = self._p["h_e"]
        top = max(self.h_ut_m - q["ut_margin_m"], q["min_m"])
        choices = np.arange(q["min_m"], top + 1e-9, q["step_m"])
        p_one = 1.0 / (1.0 + c * _umx_g(self._p, d))
        u = rng.random(d.shape)
        k = rng.integers(0, choices.size, size=d.shape)
        return np.where(u < p_one, self._p["h_e_m"], choices[k])

    def los_probability(self, d2d_m: ArrayLike) -> NDArray[np.float64]:
        """Table 7.4.2-1 UMa: 1 for d2D <= 18 m, else
        ``[18/d + exp(-d/63)·(1 - 18/d)]·[1 + C'(h_UT)·5/4·(d/100)³·exp(-d/150)]``.

        ``C'(h_UT) = ((h_UT - 13)/10)^1.5`` for 13 < h_UT <= 23 m, else 0.
        """
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        return _umx_p_los(self._p, d) * (1.0 + self._c_factor() * _umx_g(self._p, d))


@MODELS.register("umi")
class UMi(_UrbanPathLoss):
    """TR 38.901 Urban Micro, Street Canyon (UMi-SC) path loss and LOS probability.

    LOS: ``PL1 = 32.4 + 21·log10(d3D) + 20·log10(fc)`` for 10 m <= d2D <= d'_BP,
    ``PL2 = 32.4 + 40·log10(d3D) + 20·log10(fc) - 9.5·log10(d'_BP² + (h_BS - h_UT)²)`` up to
    5 km (σ_SF = 4 dB), h_E = 1 m. NLOS: ``max(PL_LOS, PL')``,
    ``PL' = 35.3·log10(d3D) + 22.4 + 21.3·log10(fc) - 0.3·(h_UT - 1.5)``, 10 m <= d2D <= 5 km
    (σ_SF = 7.82 dB); with ``simplified_nlos`` ``PL' = 32.4 + 20·log10(fc) + 31.9·log10(d3D)``
    (σ_SF = 8.2 dB). Validity: fc in [0.5, 100] GHz, h_BS = 10 m, h_UT in [1.5, 22.5] m.
    Parameters as :class:`UMa`.
    """

    SCENARIO = "umi"
    NAME = "UMi-Street Canyon"

    def __init__(
        self,
        fc_hz: float,
        h_bs_m: float = 10.0,
        h_ut_m: float = 1.5,
        *,
        simplified_nlos: bool = False,
        clamp: bool = False,
    ) -> None:
        super().__init__(fc_hz, h_bs_m, h_ut_m, simplified_nlos=simplified_nlos, clamp=clamp)

    def los_probability(self, d2d_m: ArrayLike) -> NDArray[np.float64]:
        """Table 7.4.2-1 UMi-SC: 1 for d2D <= 18 m, else ``18/d + exp(-d/36)·(1 - 18/d)``."""
        return _umx_p_los(self._p, _validate.nonnegative_array("d2d_m", d2d_m))


@MODELS.register("rma")
class RMa(ThreeGppPathLoss):
    """TR 38.901 Rural Macro (RMa) path loss and LOS probability.

    LOS: ``PL1 = 20·log10(40π·d3D·fc/3) + min(0.03·h^1.72, 10)·log10(d3D)
    - min(0.044·h^1.72, 14.77) + 0.002·log10(h)·d3D`` for 10 m <= d2D <= d_BP (σ_SF = 4 dB),
    ``PL2 = PL1(d_BP) + 40·log10(d3D/d_BP)`` for d_BP <= d2D <= 10 km (σ_SF = 6 dB), with
    ``d_BP = 2π·h_BS·h_UT·fc/c``. NLOS (10 m <= d2D <= 5 km, σ_SF = 8 dB): ``max(PL_LOS, PL')``,
    ``PL' = 161.04 - 7.1·log10(W) + 7.5·log10(h) - (24.37 - 3.7·(h/h_BS)²)·log10(h_BS)
    + (43.42 - 3.1·log10(h_BS))·(log10(d3D) - 3) + 20·log10(fc) - (3.2·(log10(11.75·h_UT))²
    - 4.97)``. fc in GHz. The table has no simplified NLOS formula for RMa.

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, in [0.5, 30] GHz.
    h_bs_m, h_ut_m : float
        BS height in [10, 150] m (default 35), UT height in [1, 10] m (default 1.5).
    h_m, w_m : float
        Average building height and street width, metres, each in [5, 50] (defaults 5, 20).
    clamp : bool
        Clamp distances into the validity range instead of raising ``ValueError``.
    """

    SCENARIO = "rma"
    NAME = "RMa"

    def __init__(
        self,
        fc_hz: float,
        h_bs_m: float = 35.0,
        h_ut_m: float = 1.5,
        *,
        h_m: float = 5.0,
        w_m: float = 20.0,
        clamp: bool = False,
    ) -> None:
        super().__init__(fc_hz, h_bs_m, h_ut_m, clamp=clamp)
        what = f"TR 38.901 {self.NAME}"
        self.h_m = _in_range("h_m", h_m, self._p["h_range_m"], "m", what)
        self.w_m = _in_range("w_m", w_m, self._p["w_range_m"], "m", what)

    def _pl1_db(self, d3d_m: Any) -> Any:
        c = self._p["los"]
        hx = self.h_m ** c["h_exp"]
        fspl = 20.0 * np.log10(4.0 * math.pi * d3d_m * self.fc_hz / SPEED_OF_LIGHT_3GPP_MPS)
        return (
            fspl
            + min(c["k1"] * hx, c["m1"]) * np.log10(d3d_m)
            - min(c["k2"] * hx, c["m2"])
            + c["k3"] * math.log10(self.h_m) * d3d_m
        )

    def _los_db(self, d2d_m: Any, d3d_m: Any, h_e_m: Any) -> Any:
        d_bp = self._breakpoint_m()
        far = self._pl1_db(d_bp) + self._p["los"]["far_slope"] * np.log10(d3d_m / d_bp)
        return np.where(d2d_m <= d_bp, self._pl1_db(d3d_m), far)

    def _nlos_db(self, d2d_m: Any, d3d_m: Any) -> Any:
        c = self._p["nlos"]
        h, w, hb, hu = self.h_m, self.w_m, self.h_bs_m, self.h_ut_m
        return (
            c["a"]
            - c["w"] * math.log10(w)
            + c["h"] * math.log10(h)
            - (c["hb1"] - c["hb2"] * (h / hb) ** 2) * math.log10(hb)
            + (c["d1"] - c["d2"] * math.log10(hb)) * (np.log10(d3d_m) - c["d_ref_log10_m"])
            + c["c"] * math.log10(self._fc_ghz)
            - (c["u1"] * math.log10(c["u2"] * hu) ** 2 - c["u3"])
        )

    def shadowing_std_db(
        self, los: ArrayLike, d2d_m: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """σ_SF, dB: LOS 4 dB up to d_BP and 6 dB beyond (so ``d2d_m`` is required when any
        link is LOS), NLOS 8 dB. Broadcast shape of ``los`` and ``d2d_m``."""
        is_los = np.asarray(los, dtype=bool)
        s = self._std_table()
        if d2d_m is None:
            if np.any(is_los):
                raise ValueError(
                    "d2d_m is required for the RMa LOS shadow-fading std "
                    f"({s['los']:g} dB up to d_BP = {self._breakpoint_m():.1f} m, "
                    f"{s['los_far']:g} dB beyond), got None"
                )
            return np.full(is_los.shape, s["nlos"], dtype=np.float64)
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        is_los, d = np.broadcast_arrays(is_los, d)
        los_std = np.where(d <= self._breakpoint_m(), s["los"], s["los_far"])
        return np.where(is_los, los_std, s["nlos"]).astype(np.float64)

    def los_probability(self, d2d_m: ArrayLike) -> NDArray[np.float64]:
        """Table 7.4.2-1 RMa: 1 for d2D <= 10 m, else ``exp(-(d2D - 10)/1000)``."""
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        q = self._p["p_los"]
        return cast(NDArray[np.float64], np.exp(-np.maximum(d - q["d0_m"], 0.0) / q["decay_m"]))

    def __repr__(self) -> str:
        return (
            f"RMa(fc_hz={self.fc_hz!r}, h_bs_m={self.h_bs_m!r}, h_ut_m={self.h_ut_m!r}, "
            f"h_m={self.h_m!r}, w_m={self.w_m!r}, clamp={self.clamp!r})"
        )


@MODELS.register("inh")
class InH(ThreeGppPathLoss):
    """TR 38.901 Indoor Hotspot - Office (InH) path loss and LOS probability.

    LOS: ``PL = 32.4 + 17.3·log10(d3D) + 20·log10(fc)`` (σ_SF = 3 dB). NLOS:
    ``max(PL_LOS, PL')``, ``PL' = 38.3·log10(d3D) + 17.30 + 24.9·log10(fc)`` (σ_SF = 8.03 dB);
    with ``simplified_nlos`` ``PL' = 32.4 + 20·log10(fc) + 31.9·log10(d3D)`` (σ_SF = 8.29 dB).
    Valid for 1 m <= d3D <= 150 m, which :meth:`d2d_range_m` turns into a d2D range for the
    model's heights; the table gives no height range (heights need only be > 0).

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, in [0.5, 100] GHz.
    h_bs_m, h_ut_m : float
        BS (ceiling) and UT heights, m, > 0 (defaults 3 and 1, the InH heights of the
        TR 38.901 §7.8 calibration).
    office : {"mixed", "open"}
        Which LOS probability of Table 7.4.2-1 to use (InH-Office mixed or open).
    simplified_nlos, clamp : bool
        As :class:`UMa`.
    """

    SCENARIO = "inh"
    NAME = "InH-Office"
    OFFICES: ClassVar[tuple[str, ...]] = ("mixed", "open")

    def __init__(
        self,
        fc_hz: float,
        h_bs_m: float = 3.0,
        h_ut_m: float = 1.0,
        *,
        office: str = "mixed",
        simplified_nlos: bool = False,
        clamp: bool = False,
    ) -> None:
        super().__init__(fc_hz, h_bs_m, h_ut_m, clamp=clamp)
        if office not in self.OFFICES:
            raise ValueError(f"office must be one of {', '.join(self.OFFICES)}, got {office!r}")
        self.office = office
        self.simplified_nlos = _flag("simplified_nlos", simplified_nlos)

    def _los_db(self, d2d_m: Any, d3d_m: Any, h_e_m: Any) -> Any:
        return _loglin_db(self._p["los"], d3d_m, self._fc_ghz)

    def _nlos_db(self, d2d_m: Any, d3d_m: Any) -> Any:
        key = "nlos_simplified" if self.simplified_nlos else "nlos"
        return _loglin_db(self._p[key], d3d_m, self._fc_ghz)

    def los_probability(self, d2d_m: ArrayLike) -> NDArray[np.float64]:
        """Table 7.4.2-1 InH-Office, ``office`` = "mixed": 1 (d <= 1.2 m),
        ``exp(-(d - 1.2)/4.7)`` (1.2 < d < 6.5 m), ``0.32·exp(-(d - 6.5)/32.6)`` (d >= 6.5 m);
        "open": 1 (d <= 5 m), ``exp(-(d - 5)/70.8)`` (5 < d <= 49 m),
        ``0.54·exp(-(d - 49)/211.7)`` (d > 49 m). d = d2D in metres."""
        d = _validate.nonnegative_array("d2d_m", d2d_m)
        q = self._p["p_los"][self.office]
        near = np.exp(-np.maximum(d - q["d0_m"], 0.0) / q["s1_m"])
        far = q["p1"] * np.exp(-(d - q["d1_m"]) / q["s2_m"])
        # the mixed office's middle segment is open at d1, the open office's closed
        is_far = d >= q["d1_m"] if self.office == "mixed" else d > q["d1_m"]
        return cast(NDArray[np.float64], np.where(is_far, far, near))

    def __repr__(self) -> str:
        return (
            f"InH(fc_hz={self.fc_hz!r}, h_bs_m={self.h_bs_m!r}, h_ut_m={self.h_ut_m!r}, "
            f"office={self.office!r}, simplified_nlos={self.simplified_nlos!r}, "
            f"clamp={self.clamp!r})"
        )

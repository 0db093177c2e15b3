"""Link budget and rates: received power, SNR, Shannon and 3GPP CQI rates, band sharing.

Everything is vectorized and broadcasts elementwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from channels.units import db_to_linear


def received_power_w(p_tx_w: ArrayLike, gain_db: ArrayLike) -> Any:
    """Received power ``p_tx_w · 10**(gain_db / 10)``, watts.

    Parameters
    ----------
    p_tx_w : float or array
        Transmit power, watts, >= 0.
    gain_db : float or array
        Channel gain, dB: ``-path_loss_db + shadowing_db`` (+ antenna gains); usually < 0.
        Small-scale fading, a linear factor, multiplies the result.
    """
    p = _validate.nonnegative_array("p_tx_w", p_tx_w)
    return p * db_to_linear(gain_db)


def snr_linear(p_rx_w: ArrayLike, noise_w: ArrayLike) -> Any:
    """Signal-to-noise ratio ``p_rx_w / noise_w`` (linear); p_rx_w >= 0, noise_w > 0, watts."""
    p = _validate.nonnegative_array("p_rx_w", p_rx_w)
    noise = _validate.positive_array("noise_w", noise_w)
    return p / noise


def shannon_rate_bps(bandwidth_hz: ArrayLike, snr_linear: ArrayLike, gap_db: float = 0.0) -> Any:
    """Shannon rate with an SNR gap: ``B · log2(1 + snr / Γ)``, bit/s.

    Parameters
    ----------
    bandwidth_hz : float or array
        Bandwidth B, Hz, >= 0 (0 gives rate 0, e.g. an empty OFDMA share).
    snr_linear : float or array
        SNR, linear, >= 0.
    gap_db : float
        SNR gap Γ to capacity, dB, >= 0 (0 = capacity; ~9.8 dB for uncoded QAM at 1e-7).
    """
    b = _validate.nonnegative_array("bandwidth_hz", bandwidth_hz)
    snr = _validate.nonnegative_array("snr_linear", snr_linear)
    gap = db_to_linear(_validate.nonnegative("gap_db", gap_db))
    return shannon_rate_kernel(b, snr, gap)


def shannon_rate_kernel(
    bandwidth_hz: NDArray[np.float64], snr_linear: NDArray[np.float64], gap_linear: float = 1.0
) -> NDArray[np.float64]:
    """:func:`shannon_rate_bps` without the argument checks, for callers that evaluate it in
    a loop on arrays they built (the simulator's medium): ``B · log2(1 + snr / Γ)`` with the
    gap Γ linear (1 = capacity), bit/s."""
    return bandwidth_hz * np.log1p(snr_linear / gap_linear) / math.log(2.0)


def uplink_sinr(
    rx_power_w: ArrayLike,
    noise_psd_w_per_hz: float,
    part_hz: ArrayLike,
    interference_w: ArrayLike = 0.0,
) -> Any:
    """SINR of a power-limited uplink that puts its whole received power ``P·g`` (W) into a
    part of ``part_hz`` Hz: ``P·g / (N0·part + I)``, with the noise PSD N0 (times the noise
    figure, W/Hz) and the interference power I (W). Not checked (a kernel: the medium calls
    it on every re-plan); a zero part without interference gives infinity."""
    return np.asarray(rx_power_w) / (
        noise_psd_w_per_hz * np.asarray(part_hz) + np.asarray(interference_w)
    )


def downlink_sinr(
    bs_power_w: ArrayLike,
    gain: ArrayLike,
    noise_psd_w_per_hz: float,
    band_hz: ArrayLike,
    interference_gain: ArrayLike = 0.0,
) -> Any:
    """SINR of a downlink from a base station spreading ``bs_power_w`` (W) evenly over its
    band of ``band_hz`` Hz, at a receiver of linear power gain ``gain``, with neighbouring
    base stations of the same power reaching it with the summed gain ``interference_gain``:
    ``P·g / (N0·B + P·I)`` — independent of the receiver's part of the band. Not checked (a
    kernel)."""
    p = np.asarray(bs_power_w)
    return (
        p
        * np.asarray(gain)
        / (noise_psd_w_per_hz * np.asarray(band_hz) + p * np.asarray(interference_gain))
    )


class CqiEntry(NamedTuple):
    """One row of a 3GPP 4-bit CQI table (TS 38.214 §5.2.2.1).

    ``efficiency`` is the spectral efficiency exactly as printed in the table (4 decimals),
    bit/s/Hz; it equals ``bits_per_symbol · code_rate_x1024 / 1024`` rounded to 4 decimals.
    CQI 0 is "out of range": efficiency 0 (outage).
    """

    cqi: int
    modulation: str
    bits_per_symbol: int
    code_rate_x1024: int
    efficiency: float


def _cqi_table(rows: tuple[tuple[str, int, int, float], ...]) -> tuple[CqiEntry, ...]:
    head = CqiEntry(0, "out of range", 0, 0, 0.0)
    return (head,) + tuple(CqiEntry(i + 1, *row) for i, row in enumerate(rows))


CQI_TABLES: Mapping[str, tuple[CqiEntry, ...]] = MappingProxyType(
    {
        # 3GPP TS 38.214 Table 5.2.2.1-2, 4-bit CQI Table 1 (up to 64QAM; = TS 36.213 7.2.3-1)
        "64qam": _cqi_table(
            (
                ("QPSK", 2, 78, 0.1523),
                ("QPSK", 2, 120, 0.2344),
                ("QPSK", 2, 193, 0.3770),
                ("QPSK", 2, 308, 0.6016),
                ("QPSK", 2, 449, 0.8770),
                ("QPSK", 2, 602, 1.1758),
                ("16QAM", 4, 378, 1.4766),
                ("16QAM", 4, 490, 1.9141),
                ("16QAM", 4, 616, 2.4063),
                ("64QAM", 6, 466, 2.7305),
                ("64QAM", 6, 567, 3.3223),
                ("64QAM", 6, 666, 3.9023),
                ("64QAM", 6, 772, 4.5234),
                ("64QAM", 6, 873, 5.1152),
                ("64QAM", 6, 948, 5.5547),
            )
        ),
        # 3GPP TS 38.214 Table 5.2.2.1-3, 4-bit CQI Table 2 (up to 256QAM)
        "256qam": _cqi_table(
            (
                ("QPSK", 2, 78, 0.1523),
                ("QPSK", 2, 193, 0.3770),
                ("QPSK", 2, 449, 0.8770),
                ("16QAM", 4, 378, 1.4766),
                ("16QAM", 4, 490, 1.9141),
                ("16QAM", 4, 616, 2.4063),
                ("64QAM", 6, 466, 2.7305),
                ("64QAM", 6, 567, 3.3223),
                ("64QAM", 6, 666, 3.9023),
                ("64QAM", 6, 772, 4.5234),
                ("64QAM", 6, 873, 5.1152),
                ("256QAM", 8, 711, 5.5547),
                ("256QAM", 8, 797, 6.2266),
                ("256QAM", 8, 885, 6.9141),
                ("256QAM", 8, 948, 7.4063),
            )
        ),
    }
)
"""3GPP TS 38.214 4-bit CQI tables by name: 16 rows (CQI 0..15) each, read-only."""


def _cqi_rows(table: str) -> tuple[CqiEntry, ...]:
    try:
        return CQI_TABLES[table]
    except (KeyError, TypeError):
        known = ", ".join(repr(name) for name in CQI_TABLES)
        raise ValueError(f"table must be one of {known}, got {table!r}") from None


def _efficiencies(table: str) -> NDArray[np.float64]:
    return np.array([row.efficiency for row in _cqi_rows(table)])


def cqi_snr_thresholds_db(table: str = "64qam", gap_db: float = 0.0) -> NDArray[np.float64]:
    """Default SNR thresholds of CQI 1..15: efficiency-matched Shannon thresholds, dB.

    ``threshold_db[c - 1] = 10·log10(2**eff_c - 1) + gap_db``: the SNR at which a
    Shannon link with SNR gap Γ = ``gap_db`` carries exactly the CQI's efficiency eff_c.
    With ``gap_db = 0`` the CQI rate never exceeds :func:`shannon_rate_bps` (an optimistic,
    capacity-achieving mapping); link-level AWGN thresholds (e.g. 10 % BLER) are receiver
    dependent and can be passed to :func:`cqi_rate_bps` as ``snr_thresholds_db`` instead.

    Parameters
    ----------
    table : str
        ``"64qam"`` (TS 38.214 Table 5.2.2.1-2) or ``"256qam"`` (Table 5.2.2.1-3).
    gap_db : float
        SNR gap to capacity, dB, finite and >= 0.

    Returns
    -------
    ndarray (15,)
        Thresholds of CQI 1..15, dB, increasing.
    """
    eff = _efficiencies(table)[1:]
    gap = _validate.nonnegative("gap_db", gap_db)
    return 10.0 * np.log10(np.expm1(eff * math.log(2.0))) + gap


def _thresholds_linear(
    table: str, snr_thresholds_db: ArrayLike | None, gap_db: float
) -> NDArray[np.float64]:
    if snr_thresholds_db is None:
        eff = _efficiencies(table)[1:]
        gap = db_to_linear(_validate.nonnegative("gap_db", gap_db))
        return cast(NDArray[np.float64], np.expm1(eff * math.log(2.0)) * gap)
    _cqi_rows(table)
    if gap_db != 0.0:
        raise ValueError(
            "gap_db only shifts the default thresholds; give it as 0 with snr_thresholds_db, "
            f"got gap_db={gap_db!r}"
        )
    thr = np.asarray(snr_thresholds_db, dtype=np.float64)
    if thr.shape != (15,) or not np.all(np.isfinite(thr)) or np.any(np.diff(thr) < 0.0):
        raise ValueError(
            "snr_thresholds_db must be 15 finite, non-decreasing SNRs in dB (CQI 1..15), "
            f"got {snr_thresholds_db!r}"
        )
    return cast(NDArray[np.float64], db_to_linear(thr))


def cqi_index(
    snr_linear: ArrayLike,
    table: str = "64qam",
    snr_thresholds_db: ArrayLike | None = None,
    gap_db: float = 0.0,
) -> Any:
    """CQI selected at each SNR: the highest CQI whose threshold the SNR reaches (0 = none).

    Parameters
    ----------
    snr_linear : float or array
        SNR, linear, >= 0.
    table : str
        ``"64qam"`` or ``"256qam"`` (see :data:`CQI_TABLES`).
    snr_thresholds_db : array (15,) or None
        SNR thresholds of CQI 1..15, dB, non-decreasing; ``None`` =
        :func:`cqi_snr_thresholds_db` ``(table, gap_db)``.
    gap_db : float
        SNR gap of the default thresholds, dB, >= 0 (must be 0 with explicit thresholds).

    Returns
    -------
    int or array of int
        CQI in 0..15, shape of ``snr_linear``. An SNR equal to a threshold reaches it.
    """
    snr = _validate.nonnegative_array("snr_linear", snr_linear)
    thr = _thresholds_linear(table, snr_thresholds_db, gap_db)
    return np.searchsorted(thr, snr, side="right")


def cqi_rate_bps(
    bandwidth_hz: ArrayLike,
    snr_linear: ArrayLike,
    table: str = "64qam",
    snr_thresholds_db: ArrayLike | None = None,
    gap_db: float = 0.0,
) -> Any:
    """Rate of the CQI chosen at each SNR: ``B · efficiency[cqi]``, bit/s (CQI 0 gives 0).

    The CQI is the highest one whose SNR threshold the SNR reaches (:func:`cqi_index`);
    below the CQI 1 threshold the link is in outage (rate 0). Efficiencies are those of
    3GPP TS 38.214 Tables 5.2.2.1-2 (``"64qam"``) and 5.2.2.1-3 (``"256qam"``).

    Parameters
    ----------
    bandwidth_hz : float or array
        Bandwidth B, Hz, >= 0; broadcast against ``snr_linear``.
    snr_linear : float or array
        SNR, linear, >= 0.
    table, snr_thresholds_db, gap_db
        As in :func:`cqi_index`. Default thresholds: efficiency-matched Shannon thresholds
        ``10·log10(2**eff - 1) + gap_db`` (see :func:`cqi_snr_thresholds_db`).
    """
    b = _validate.nonnegative_array("bandwidth_hz", bandwidth_hz)
    cqi = cqi_index(snr_linear, table, snr_thresholds_db, gap_db)
    return b * _efficiencies(table)[cqi]


def share_bandwidth(
    bandwidth_hz: ArrayLike,
    active_mask: ArrayLike,
    kind: str = "equal",
    weights: ArrayLike | None = None,
) -> Any:
    """OFDMA bandwidth of each link: the band split among the active links, 0 for the others.

    ``kind="equal"``: each active link gets ``B / (number of active links)``;
    ``kind="proportional"``: active link k gets ``B · w_k / Σ_active w``. Along the last axis
    the shares sum to B when any link is active, to 0 when none is.

    Parameters
    ----------
    bandwidth_hz : float or array
        Total band B, Hz, >= 0; shape broadcastable to ``active_mask.shape[:-1]``.
    active_mask : array of bool (..., n)
        True where a link transmits (0/1 integers accepted); links along the last axis.
    kind : str
        ``"equal"`` or ``"proportional"``.
    weights : array (..., n) or None
        Weights, finite and >= 0, broadcast against ``active_mask``; required for
        ``"proportional"`` (the active weights must not all be 0), refused for ``"equal"``.

    Returns
    -------
    ndarray (..., n)
        Bandwidth of each link, Hz.
    """
    mask = np.asarray(active_mask)
    if mask.ndim == 0 or not (
        mask.dtype == np.bool_ or (mask.size == 0 or np.all((mask == 0) | (mask == 1)))
    ):
        raise ValueError(
            f"active_mask must be an array (..., n) of booleans (or 0/1), got {active_mask!r}"
        )
    mask = mask.astype(bool)
    b = _validate.nonnegative_array("bandwidth_hz", bandwidth_hz)[..., None]
    if kind == "equal":
        if weights is not None:
            raise ValueError(
                f"weights is only used with kind='proportional', got kind={kind!r} and weights"
            )
        w = np.ones(mask.shape)
    elif kind == "proportional":
        if weights is None:
            raise ValueError("kind='proportional' needs weights (finite, >= 0), got None")
        w = _validate.nonnegative_array("weights", weights)
    else:
        raise ValueError(f"kind must be 'equal' or 'proportional', got {kind!r}")
    try:
        w, mask = np.broadcast_arrays(w, mask)
    except ValueError:
        raise ValueError(
            f"weights must broadcast against active_mask of shape {mask.shape}, "
            f"got shape {np.shape(w)}"
        ) from None
    w_active = np.where(mask, w, 0.0)
    total = w_active.sum(axis=-1, keepdims=True)
    if np.any(mask.any(axis=-1, keepdims=True) & (total == 0.0)):
        raise ValueError("weights of the active links must not all be 0 (each >= 0, finite)")
    share = np.divide(w_active, total, out=np.zeros(w_active.shape), where=total > 0.0)
    return b * share


def tdma_rate_bps(
    bandwidth_hz: ArrayLike, snr_linear: ArrayLike, time_fraction: ArrayLike, gap_db: float = 0.0
) -> Any:
    """Mean TDMA rate: the link has the whole band B for a fraction φ of the time, bit/s.

    ``φ · B · log2(1 + snr / Γ)`` (see :func:`shannon_rate_bps`). ``snr_linear`` is the SNR
    over the whole band B. Fractions of links sharing one band should sum to <= 1 (e.g.
    ``share_bandwidth(1.0, active_mask)`` gives equal fractions); this is not checked here.

    Parameters
    ----------
    bandwidth_hz : float or array
        Band B, Hz, >= 0.
    snr_linear : float or array
        SNR over B, linear, >= 0.
    time_fraction : float or array
        φ, in [0, 1].
    gap_db : float
        SNR gap Γ, dB, >= 0.
    """
    phi = _validate.nonnegative_array("time_fraction", time_fraction)
    if np.any(phi > 1.0):
        raise ValueError(f"time_fraction must be in [0, 1], got {float(phi[phi > 1.0].flat[0])!r}")
    return phi * shannon_rate_bps(bandwidth_hz, snr_linear, gap_db=gap_db)

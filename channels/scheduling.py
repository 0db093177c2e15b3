"""Resource scheduling of one band among concurrent transmissions: who gets which part.

Two rules, each applied per band (one cell, one direction) and per channel block:

``fixed_share``
    Every transmission that wants the band holds its nominal share — ``1/m`` of it (``equal``)
    or ``w_i / Σ w`` (``proportional``) — whether or not its SINR on that share reaches the
    outage threshold.

``power_aware`` (a scheduler that knows each link's SINR, as a base station does from CQI)
    Each transmission is judged on the SINR it would get on its nominal share. A
    transmission gets at most the widest part of the band on which its SINR still reaches
    the threshold γ, its *cap* (:func:`uplink_cap_fraction` for a power-limited uplink, whose
    SINR falls as its part widens; all or nothing where the SINR does not depend on the part);
    it waits (gets nothing) when its cap is below the minimum part ``min_fraction`` (e.g. one
    resource block of 180 kHz; at most the whole band) — whatever the company, so that
    whether a transmission can be served depends on its own link only. The band is then
    water-filled: with the waiting transmissions removed,

        f_i = min(cap_i, λ · w_i),   λ such that Σ f_i = 1   (or every f_i = cap_i < ...),

    so the band a waiting or narrowed transmission leaves goes to the others in proportion to
    their weights, and no transmission is pushed below the threshold by the extra band. Since
    λ can only grow when transmissions leave, a transmission never has a smaller part than
    with more company: a device alone in the band is never worse off.

Shares are fractions of the band (multiply by its width for Hz).
"""

from __future__ import annotations

from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate

SCHEDULERS = ("power_aware", "fixed_share")


def nominal_fractions(weights: ArrayLike) -> NDArray[np.float64]:
    """Nominal shares ``w_i / Σ w`` of the transmissions in one band (last axis)."""
    w = _validate.nonnegative_array("weights", weights)
    total = w.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("weights of the transmissions in a band must not all be 0")
    return cast(NDArray[np.float64], w / total)


def uplink_cap_fraction(
    rx_power_w: ArrayLike,
    noise_psd_w_per_hz: float,
    band_hz: ArrayLike,
    snr_threshold_linear: float,
    interference_w: ArrayLike = 0.0,
) -> NDArray[np.float64]:
    """Widest part of the band on which a power-limited uplink still reaches the threshold.

    A device putting its whole received power ``P·g`` into a part ``f·B`` has
    ``SINR(f) = P·g / (N0·f·B + I)``, which falls as f grows; ``SINR(f) >= γ`` holds for

        f <= f* = (P·g/γ − I) / (N0·B).

    Parameters
    ----------
    rx_power_w : array
        Received signal power ``P·g``, watts, >= 0.
    noise_psd_w_per_hz : float
        Noise power spectral density N0 (noise figure included), W/Hz, > 0.
    band_hz : array
        The band B, Hz, > 0; broadcast against ``rx_power_w``.
    snr_threshold_linear : float
        γ, linear, > 0.
    interference_w : array
        Interference power I at the receiver that does not scale with the part, watts, >= 0.

    Returns
    -------
    ndarray
        f* (may exceed 1: the whole band is fine; negative: no part is).
    """
    p = _validate.nonnegative_array("rx_power_w", rx_power_w)
    n0 = _validate.positive("noise_psd_w_per_hz", noise_psd_w_per_hz)
    band = _validate.positive_array("band_hz", band_hz)
    gamma = _validate.positive("snr_threshold_linear", snr_threshold_linear)
    i_w = _validate.nonnegative_array("interference_w", interference_w)
    return (p / gamma - i_w) / (n0 * band)


def water_fill_fractions(
    weights: ArrayLike, cap: ArrayLike, min_fraction: ArrayLike = 0.0
) -> NDArray[np.float64]:
    """The ``power_aware`` shares of one band (see the module docstring).

    Parameters
    ----------
    weights : array (m,)
        Weight of each transmission (1 for ``equal``, its bits for ``proportional``), > 0.
    cap : array (..., m)
        Widest part on which each transmission reaches the threshold (``inf``: no limit;
        below ``min_fraction`` or <= 0: it waits). Leading axes are independent bands
        (e.g. channel blocks).
    min_fraction : float or array (..., m)
        Smallest part on which a transmission can be scheduled (e.g. one resource block over
        the band; at most the whole band): one whose cap is below it waits, however many
        others share the band. (A part below it, in a band crowded with more transmissions
        than resource blocks, stands for that resource block shared in time.)

    Returns
    -------
    ndarray (..., m)
        Fractions, >= 0, summing to at most 1 along the last axis (to exactly 1 unless every
        transmission is capped or waits); 0 for a waiting transmission. Without binding caps
        these are exactly the nominal shares ``w_i / Σ w``.
    """
    w = _validate.positive_array("weights", weights)
    c = np.asarray(cap, dtype=float)
    if c.shape[-1:] != w.shape[-1:] or np.isnan(c).any():
        raise ValueError(f"cap must be an array (..., {w.shape[-1]}) without NaN, got {c.shape}")
    lo = np.minimum(np.asarray(min_fraction, dtype=float), 1.0)
    free = (c > 0) & (c >= lo)  # may get a part, not yet limited by its cap
    share = np.zeros(c.shape)
    budget = np.ones(c.shape[:-1])
    for _ in range(w.shape[-1] + 1):
        wsum = (w * free).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            want = budget[..., None] * w / wsum[..., None]
        capped = free & (want > c)
        if not capped.any():
            share = np.where(free, want, share)
            break
        share = np.where(capped, c, share)
        budget = budget - np.where(capped, c, 0.0).sum(axis=-1)
        free &= ~capped
    return np.maximum(share, 0.0)

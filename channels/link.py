"""Link budget: received power, SNR and Shannon rate (vectorized, broadcast elementwise)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

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
    return b * np.log1p(snr / gap) / math.log(2.0)

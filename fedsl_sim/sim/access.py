"""Multiple access: how a transmission's part of the band turns into its SINR, its rate and
its time on air. The medium (:mod:`fedsl_sim.sim.medium`) delegates to one of these.

``ofdma``: transmission i holds a part f_i of the band B all the time; an uplink puts its whole
power into its part (its SINR grows as the part shrinks), a downlink base station spreads its
power over the band (the SINR does not depend on the part); rate r(f_i B, SINR_i).

``tdma``: transmission i holds the whole band for a fraction f_i of the time; rate
f_i r(B, SINR_i(B)), and it radiates (spends energy) only in its slots, f_i of the time.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from channels.scheduling import uplink_cap_fraction
from fedsl_registry import Registry

RateFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Links:
    """The active transmissions of one plan, as the scheduler judges them (arrays over the
    transmissions, or (blocks, transmissions))."""

    #: True for an uplink (a device sends), False for a downlink
    uplink: np.ndarray
    #: an uplink's received power P g, W
    rx_power_w: np.ndarray
    #: noise PSD N0 times the noise figure, W/Hz
    noise_psd_w_per_hz: float
    #: the band of each transmission's cell, Hz
    band_hz: np.ndarray
    #: the mean uplink interference power at the serving base station, W
    ul_interference_w: float
    #: each transmission's SINR on its nominal share
    sinr_nominal: np.ndarray
    #: a downlink's SINR (independent of its part; the weakest receiver's for a multicast)
    dl_sinr: np.ndarray


class Access(ABC):
    """One multiple-access scheme (see module docstring). Arrays are (blocks, transmissions)
    or broadcast to it; ``fraction`` is each transmission's share of its band."""

    @abstractmethod
    def part_hz(self, band_hz: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        """The band an uplink's SINR is computed on, Hz."""

    @abstractmethod
    def rate_bps(
        self, rate: RateFn, band_hz: np.ndarray, fraction: np.ndarray, sinr: np.ndarray
    ) -> np.ndarray:
        """The mean rate of each transmission, bit/s, under the rate model ``rate(B, SINR)``."""

    @abstractmethod
    def on_air(self, fraction: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The fraction of the time each transmission radiates, of ``shape``."""

    @abstractmethod
    def caps(self, links: Links, gamma: float) -> np.ndarray:
        """The widest share on which each transmission reaches the threshold ``gamma`` (the
        power-aware scheduler's cap; infinity: any share)."""

    @abstractmethod
    def min_fraction(
        self, uplink: np.ndarray, min_share_hz: float, band_hz: np.ndarray
    ) -> np.ndarray:
        """The narrowest share the scheduler gives a transmission (0: none)."""


ACCESS: Registry[Access] = Registry("access scheme")


@ACCESS.register("ofdma")
class Ofdma(Access):
    """Frequency sharing: a part of the band all the time."""

    def part_hz(self, band_hz: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        return band_hz * fraction

    def rate_bps(
        self, rate: RateFn, band_hz: np.ndarray, fraction: np.ndarray, sinr: np.ndarray
    ) -> np.ndarray:
        return rate(band_hz * fraction, sinr)

    def on_air(self, fraction: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.ones(shape)

    def caps(self, links: Links, gamma: float) -> np.ndarray:
        ul_cap = uplink_cap_fraction(
            links.rx_power_w,
            links.noise_psd_w_per_hz,
            links.band_hz,
            gamma,
            links.ul_interference_w,
        )
        dl_cap = np.where(links.dl_sinr >= gamma, math.inf, 0.0)
        return np.where(links.uplink, ul_cap, dl_cap)

    def min_fraction(
        self, uplink: np.ndarray, min_share_hz: float, band_hz: np.ndarray
    ) -> np.ndarray:
        return np.where(uplink, min_share_hz / band_hz, 0.0)


@ACCESS.register("tdma")
class Tdma(Access):
    """Time sharing: the whole band in a fraction of the time slots."""

    def part_hz(self, band_hz: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        return band_hz

    def rate_bps(
        self, rate: RateFn, band_hz: np.ndarray, fraction: np.ndarray, sinr: np.ndarray
    ) -> np.ndarray:
        return rate(band_hz, sinr) * fraction

    def on_air(self, fraction: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.array(np.broadcast_to(fraction, shape))

    def caps(self, links: Links, gamma: float) -> np.ndarray:
        # the whole band in its slots: all or nothing
        return np.where(links.sinr_nominal >= gamma, math.inf, 0.0)

    def min_fraction(
        self, uplink: np.ndarray, min_share_hz: float, band_hz: np.ndarray
    ) -> np.ndarray:
        return np.zeros(np.shape(uplink))

"""Time-correlated small-scale fading driven by motion (Clarke/Jakes Doppler spectrum).

A process is built by name (``make("rician", n_links=4, fc_hz=3.5e9, rng=rng, k_db=6.0)``)
and evaluated at arbitrary points of each device's trajectory, in any order: the complex
gain ``h`` of every link is a smooth deterministic function of the distance the device has
travelled, fixed by the random parameters drawn once at construction. Two evaluations a
millisecond apart are therefore strongly correlated, never independent re-draws.

Parameterisation by distance
    The Doppler phase of path n is ``2π·s·cos(α_n)/λ`` with ``s`` the distance travelled
    (metres) along the trajectory and ``λ = c/fc``. At constant speed v, ``s = v·t`` and the
    phase is ``2π·f_D·cos(α_n)·t`` with ``f_D = v/λ``; speed changes (pauses included) are
    exact because only the travelled distance enters. A device that does not move keeps its
    gain. The scattering is isotropic (Clarke), so the statistics do not depend on the
    direction of travel; for a curved trajectory the process is that of the unrolled
    straight path of the same length (the usual approximation: the field's true spatial
    correlation is ``J0(2π·|Δx|/λ)`` with ``|Δx| <= Δs``). ``gain_at_time(t_s, doppler_hz)``
    is the constant-speed time form ``s = f_D·λ·t``.

Rayleigh (``"rayleigh"``, :class:`SumOfSinusoids`)
    Y. R. Zheng and C. Xiao, "Improved models for the generation of multiple uncorrelated
    Rayleigh fading waveforms", IEEE Commun. Lett. 6(6):256-258, 2002, eqs. (3)-(4), here
    normalised to unit power and written over distance::

        h(s) = M^(-1/2) · Σ_{n=1..M} [cos(k·s·cos α_n + φ_n) + j·cos(k·s·sin α_n + ϕ_n)]
        α_n  = (2πn - π + θ)/(4M),   k = 2π/λ

    with θ, φ_n, ϕ_n independent and uniform on [-π, π), drawn per link. For any M the
    ensemble statistics are exactly those of Clarke's model: E[h] = 0, E|h|² = 1,
    E[h(s)·h*(s+Δ)] = J0(2πΔ/λ) (= J0(2π·f_D·τ) in time), E[h(s)·h(s+Δ)] = 0 (circular),
    and the process is stationary in s. The marginal is Gaussian only as M -> inf: with
    M sinusoids per quadrature E|h|⁴ = 2 - 3/(4M) instead of 2 (M = 16: 1.953), and the
    largest CDF distance of |h|² from Exp(1) is about 0.006.

    Why not the later Zheng & Xiao model (IEEE Trans. Commun. 51(6):920-928, 2003): it
    shares one phase φ between all sinusoids; at s = 0 every term then
    equals cos φ and E|h(0)|⁴ = 3 - 3/(2M) (vs 2): its higher-order statistics are not
    stationary, which matters here because every trajectory starts at s = 0. The 2002 model
    has independent per-sinusoid phases and no such defect, for the same cost.

Rician (``"rician"``, :class:`RicianProcess`)
    C. Xiao, Y. R. Zheng and N. C. Beaulieu, "Novel sum-of-sinusoids simulation models for
    Rayleigh and Rician fading channels", IEEE Trans. Wireless Commun. 5(12):3667-3679,
    2006::

        h(s) = √(1/(K+1)) · h_rayleigh(s) + √(K/(K+1)) · exp(j(k·s·cos θ0 + φ0))

    (diffuse power 1/(K+1), LOS power K/(K+1)); θ0 is the angle between the direction of
    travel and the line of sight, φ0 is uniform on [-π, π) per link.

Nakagami-m (``"nakagami"``, :class:`NakagamiProcess`)
    Memoryless inverse-CDF transformation of the Rayleigh process (N. C. Beaulieu and
    C. Cheng, "Efficient Nakagami-m fading channel simulation", IEEE Trans. Veh. Technol.
    54(2):413-424, 2005, with the exact inverse regularised incomplete gamma function in
    place of their approximation): ``|h|² = F_Γ(m,1/m)^(-1)(1 - exp(-|h_rayleigh|²))``. The
    marginal is Gamma(m, 1/m) exactly for an exponential input (i.e. up to the SoS marginal
    error above); the correlation is only approximately that of a physical Nakagami channel
    (exactly J0² in power for m = 1). Works for every real m >= 0.5.

Coherence
    ``coherence_time_s = 0.423/f_D`` and ``coherence_distance_m = 0.423·λ``: Rappaport's
    rule of thumb ``T_c = √(9/(16π))/f_D``, the geometric mean of ``1/f_D`` and the 0.5
    envelope-correlation time ``9/(16π·f_D)``.

Adding a process is one :class:`CorrelatedFading` subclass plus
``@PROCESSES.register("name")``.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from channels.units import SPEED_OF_LIGHT_MPS
from fedsl_registry import Registry

PROCESSES: Registry[CorrelatedFading] = Registry("time-correlated fading")

COHERENCE_FACTOR = math.sqrt(9.0 / (16.0 * math.pi))
"""``√(9/(16π)) ≈ 0.4231``: ``T_c = COHERENCE_FACTOR / f_D`` (Rappaport's convention)."""


def make(
    name: str, /, n_links: int, fc_hz: float, rng: np.random.Generator, **params: Any
) -> CorrelatedFading:
    """Build the process registered as ``name`` (see ``PROCESSES.names()``).

    Parameters
    ----------
    name : str
        ``"none"``, ``"rayleigh"``, ``"rician"`` (``k_db``) or ``"nakagami"`` (``m``).
    n_links : int
        Number of independent links, >= 1.
    fc_hz : float
        Carrier frequency, Hz, > 0.
    rng : numpy.random.Generator
        Stream all random parameters are drawn from, once, here.
    **params
        Model parameters (``k_db``, ``m``, ``n_paths``, ``los_angle_rad``).
    """
    return PROCESSES.make(name, n_links=n_links, fc_hz=fc_hz, rng=rng, **params)


def wavelength_m(fc_hz: float) -> float:
    """Carrier wavelength ``λ = c/fc``, metres, for ``fc_hz`` > 0 (Hz)."""
    return SPEED_OF_LIGHT_MPS / _validate.positive("fc_hz", fc_hz)


def doppler_hz(fc_hz: float, speed_mps: ArrayLike) -> Any:
    """Maximum Doppler shift ``f_D = v/λ = v·fc/c``, Hz.

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, > 0.
    speed_mps : float or array
        Speed, m/s, finite and >= 0.

    Returns
    -------
    float or array
        Same shape as ``speed_mps``; e.g. 3 km/h at 3.5 GHz gives 9.73 Hz.
    """
    lam = wavelength_m(fc_hz)
    v = _validate.nonnegative_array("speed_mps", speed_mps)
    return v / lam


def coherence_distance_m(fc_hz: float) -> float:
    """Coherence distance ``0.423·λ`` (``COHERENCE_FACTOR·c/fc``), metres; fc_hz > 0 (Hz).

    The distance form of ``coherence_time_s``: the time at speed v is this distance / v.
    """
    return COHERENCE_FACTOR * wavelength_m(fc_hz)


def coherence_time_s(fc_hz: float, speed_mps: ArrayLike) -> Any:
    """Coherence time ``T_c = 0.423/f_D`` (``COHERENCE_FACTOR/f_D``), seconds.

    Parameters
    ----------
    fc_hz : float
        Carrier frequency, Hz, > 0.
    speed_mps : float or array
        Speed, m/s, finite and >= 0; a device at rest has ``T_c = inf``.

    Returns
    -------
    float or array
        Same shape as ``speed_mps``; e.g. 3 km/h at 3.5 GHz gives 43.5 ms.
    """
    dist = coherence_distance_m(fc_hz)
    v = _validate.nonnegative_array("speed_mps", speed_mps)
    with np.errstate(divide="ignore"):
        return dist / v


class CorrelatedFading:
    """Base class: complex fading gain ``h`` of ``n_links`` links as a function of distance.

    Subclasses implement ``gain``; ``power``, ``gain_at_time`` and ``power_at_time`` follow.
    ``E|h|² = 1`` (ensemble over the construction draws). ``deterministic`` is True for
    processes that draw no randomness (``h ≡ 1``).

    Parameters
    ----------
    n_links : int
        Number of links, >= 1.
    fc_hz : float
        Carrier frequency, Hz, > 0.
    """

    deterministic: bool = False

    def __init__(self, n_links: int, fc_hz: float) -> None:
        self.n_links = _validate.integer("n_links", n_links, 1)
        self.fc_hz = _validate.positive("fc_hz", fc_hz)
        self.wavelength_m = SPEED_OF_LIGHT_MPS / self.fc_hz
        self._wavenumber = 2.0 * math.pi / self.wavelength_m  # k = 2π/λ, rad/m

    def gain(self, travelled_m: ArrayLike) -> NDArray[np.complex128]:
        """Complex gain ``h`` at the given travelled distances.

        Parameters
        ----------
        travelled_m : array (n_links,) or (T, n_links)
            Distance each link's device has travelled since the process started, metres,
            finite and >= 0 (column l belongs to link l).

        Returns
        -------
        complex array, same shape
            ``h``; unit mean power. Depends only on the distances (not on the call order).
        """
        raise NotImplementedError

    def power(self, travelled_m: ArrayLike) -> NDArray[np.float64]:
        """Power gain ``|h|²`` (linear, unit mean), real array of ``travelled_m``'s shape."""
        h = self.gain(travelled_m)
        return h.real**2 + h.imag**2

    def gain_at_time(self, t_s: ArrayLike, doppler_hz: ArrayLike) -> NDArray[np.complex128]:
        """Constant-speed time form: ``gain`` at ``s = f_D·λ·t`` (``= v·t``).

        Parameters
        ----------
        t_s : float or array (T,)
            Times since the process started, seconds, finite and >= 0.
        doppler_hz : float or array (n_links,)
            Maximum Doppler shift ``f_D = v/λ`` of each link, Hz, finite and >= 0 (see
            :func:`doppler_hz`).

        Returns
        -------
        complex array (n_links,) for a scalar ``t_s``, (T, n_links) for an array
        """
        return self.gain(self._travelled_from_time(t_s, doppler_hz))

    def power_at_time(self, t_s: ArrayLike, doppler_hz: ArrayLike) -> NDArray[np.float64]:
        """``power`` at ``s = f_D·λ·t``; shapes as in :meth:`gain_at_time`."""
        return self.power(self._travelled_from_time(t_s, doppler_hz))

    def _travelled(self, travelled_m: ArrayLike) -> NDArray[np.float64]:
        s = np.asarray(travelled_m, dtype=np.float64)
        if s.ndim not in (1, 2) or s.shape[-1] != self.n_links:
            raise ValueError(
                f"travelled_m must have shape (n_links,) or (T, n_links) with "
                f"n_links={self.n_links} (metres), got shape {s.shape}"
            )
        return _validate.nonnegative_array("travelled_m", s)

    def _travelled_from_time(self, t_s: ArrayLike, doppler_hz: ArrayLike) -> NDArray[np.float64]:
        t = _validate.nonnegative_array("t_s", t_s)
        if t.ndim > 1:
            raise ValueError(f"t_s must be a scalar or a 1-D array (seconds), got shape {t.shape}")
        fd = _validate.nonnegative_array("doppler_hz", doppler_hz)
        if not (fd.ndim == 0 or fd.shape == (self.n_links,)):
            raise ValueError(
                f"doppler_hz must be a scalar or have shape ({self.n_links},) (Hz), "
                f"got shape {fd.shape}"
            )
        speed = np.broadcast_to(fd * self.wavelength_m, (self.n_links,))  # v = f_D·λ, m/s
        return t[..., np.newaxis] * speed


@PROCESSES.register("none")
class NoFadingProcess(CorrelatedFading):
    """No fading: ``h ≡ 1`` on every link. Draws nothing from ``rng``.

    Parameters
    ----------
    n_links : int
        Number of links, >= 1.
    fc_hz : float
        Carrier frequency, Hz, > 0 (only validated).
    rng : numpy.random.Generator
        Accepted for a uniform signature; never drawn from.
    """

    deterministic = True

    def __init__(self, n_links: int, fc_hz: float, rng: np.random.Generator) -> None:
        super().__init__(n_links, fc_hz)
        _validate.generator("rng", rng)

    def gain(self, travelled_m: ArrayLike) -> NDArray[np.complex128]:
        return np.ones(self._travelled(travelled_m).shape, dtype=np.complex128)

    def __repr__(self) -> str:
        return f"NoFadingProcess(n_links={self.n_links}, fc_hz={self.fc_hz!r})"


_TWO_PI = 2.0 * math.pi
_INV_TWO_PI = 1.0 / _TWO_PI


class _Cosines:
    """cos(s·k + φ) for one path at a time, fast: the phase is formed and reduced to
    [-π, π] in float64 (x - 2π·rint(x / 2π): accurate at any distance travelled), then the
    cosine is taken in float32 (absolute error about 1e-7, far below the process's own
    finite-path error). About five times faster than a float64 cosine of the raw phase."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self._x = np.empty(shape)
        self._r = np.empty(shape)
        self._y = np.empty(shape, dtype=np.float32)

    def __call__(self, s: NDArray[np.float64], k: Any, phi: Any) -> NDArray[np.float32]:
        x, r, y = self._x, self._r, self._y
        np.multiply(s, k, out=x)
        x += phi
        np.multiply(x, _INV_TWO_PI, out=r)
        np.rint(r, out=r)
        r *= _TWO_PI
        x -= r
        np.copyto(y, x, casting="same_kind")
        return np.cos(y, out=y)


@PROCESSES.register("rayleigh")
class SumOfSinusoids(CorrelatedFading):
    """Rayleigh fading with Clarke's spectrum: Zheng & Xiao (2002) sum of sinusoids.

    ``h(s) = M^(-1/2)·Σ_n [cos(k·s·cos α_n + φ_n) + j·cos(k·s·sin α_n + ϕ_n)]``,
    ``α_n = (2πn - π + θ)/(4M)``, ``k = 2π/λ`` (see the module docstring for the
    statistics). Per link, drawn from ``rng`` in this order at construction:
    θ (n_links,), φ (n_links, M), ϕ (n_links, M), all uniform on [-π, π).

    Parameters
    ----------
    n_links : int
        Number of independent links, >= 1.
    fc_hz : float
        Carrier frequency, Hz, > 0.
    rng : numpy.random.Generator
        Stream the random angles and phases are drawn from (nothing is drawn later).
    n_paths : int
        M, sinusoids per quadrature component (2M oscillators per link), >= 1. Zheng & Xiao
        find M >= 8 adequate; the marginal's deviation from Rayleigh shrinks like 1/M.

    Attributes
    ----------
    angles_rad : array (n_links, n_paths)
        α_n of each link, radians, in [0, π/2) (read-only).
    phases_i_rad, phases_q_rad : array (n_links, n_paths)
        φ_n and ϕ_n of each link, radians (read-only).
    """

    def __init__(
        self, n_links: int, fc_hz: float, rng: np.random.Generator, n_paths: int = 16
    ) -> None:
        super().__init__(n_links, fc_hz)
        _validate.generator("rng", rng)
        self.n_paths = _validate.integer("n_paths", n_paths, 1)
        m = self.n_paths
        theta = rng.uniform(-math.pi, math.pi, self.n_links)
        phases_i = rng.uniform(-math.pi, math.pi, (self.n_links, m))
        phases_q = rng.uniform(-math.pi, math.pi, (self.n_links, m))
        n = np.arange(1, m + 1, dtype=np.float64)
        angles = (2.0 * math.pi * n[np.newaxis, :] - math.pi + theta[:, np.newaxis]) / (4.0 * m)
        self.angles_rad = _read_only(angles)
        self.phases_i_rad = _read_only(phases_i)
        self.phases_q_rad = _read_only(phases_q)
        # (M, n_links) rows so that the loop in gain() runs over paths, vectorized over links
        self._k_i = np.ascontiguousarray((self._wavenumber * np.cos(angles)).T)
        self._k_q = np.ascontiguousarray((self._wavenumber * np.sin(angles)).T)
        self._phi_i = np.ascontiguousarray(phases_i.T)
        self._phi_q = np.ascontiguousarray(phases_q.T)

    def gain(self, travelled_m: ArrayLike) -> NDArray[np.complex128]:
        s = self._travelled(travelled_m)
        re = np.zeros(s.shape)
        im = np.zeros(s.shape)
        # One path at a time: memory stays O(T·n_links) and each element's sum is formed in
        # the same order whatever the batch, so values never depend on how calls are split.
        cos = _Cosines(s.shape)
        for n in range(self.n_paths):
            re += cos(s, self._k_i[n], self._phi_i[n])
            im += cos(s, self._k_q[n], self._phi_q[n])
        scale = 1.0 / math.sqrt(self.n_paths)
        return (re * scale) + 1j * (im * scale)

    def __repr__(self) -> str:
        return (
            f"SumOfSinusoids(n_links={self.n_links}, fc_hz={self.fc_hz!r}, n_paths={self.n_paths})"
        )


@PROCESSES.register("rician")
class RicianProcess(CorrelatedFading):
    """Rician fading: diffuse Rayleigh SoS plus a Doppler-shifted line-of-sight ray.

    ``h(s) = √(1/(K+1))·h_d(s) + √(K/(K+1))·exp(j(k·s·cos θ0 + φ0))`` with ``h_d`` a
    :class:`SumOfSinusoids` (unit power) and ``K = 10**(k_db/10)`` (Xiao, Zheng & Beaulieu
    2006). Drawn from ``rng`` in this order: the diffuse part's parameters, then θ0 (only
    when ``los_angle_rad`` is None), then φ0 (n_links,), uniform on [-π, π).

    Parameters
    ----------
    n_links : int
        Number of independent links, >= 1.
    fc_hz : float
        Carrier frequency, Hz, > 0.
    k_db : float
        K-factor (LOS power / diffuse power), dB, < +inf; -inf gives Rayleigh.
    rng : numpy.random.Generator
        Stream all random parameters are drawn from, at construction only.
    n_paths : int
        Sinusoids per quadrature of the diffuse part, >= 1.
    los_angle_rad : float, array (n_links,) or None
        θ0, angle between the direction of travel and the LOS direction, radians (finite);
        None draws it uniformly on [-π, π) per link.

    Attributes
    ----------
    diffuse : SumOfSinusoids
        The unit-power diffuse process ``h_d``.
    los_angle_rad, los_phase_rad : array (n_links,)
        θ0 and φ0, radians (read-only).
    """

    def __init__(
        self,
        n_links: int,
        fc_hz: float,
        k_db: float,
        rng: np.random.Generator,
        n_paths: int = 16,
        los_angle_rad: ArrayLike | None = None,
    ) -> None:
        super().__init__(n_links, fc_hz)
        k = _validate.to_float("k_db", k_db)
        if math.isnan(k) or k == math.inf:
            raise ValueError(f"k_db must be a real number < +inf (dB), got {k_db!r}")
        _validate.generator("rng", rng)
        self.k_db = k
        self.k_linear = 10.0 ** (k / 10.0)
        self.diffuse = SumOfSinusoids(n_links, fc_hz, rng, n_paths=n_paths)
        if los_angle_rad is None:
            theta0 = rng.uniform(-math.pi, math.pi, self.n_links)
        else:
            theta0 = np.asarray(los_angle_rad, dtype=np.float64)
            if not (theta0.ndim == 0 or theta0.shape == (self.n_links,)):
                raise ValueError(
                    f"los_angle_rad must be None, a scalar or have shape ({self.n_links},) "
                    f"(radians), got shape {theta0.shape}"
                )
            if not np.all(np.isfinite(theta0)):
                raise ValueError(f"los_angle_rad must be finite (radians), got {los_angle_rad!r}")
            theta0 = np.broadcast_to(theta0, (self.n_links,)).copy()
        self.los_angle_rad = _read_only(theta0)
        self.los_phase_rad = _read_only(rng.uniform(-math.pi, math.pi, self.n_links))
        self._k_los = self._wavenumber * np.cos(theta0)
        self._a_los = math.sqrt(self.k_linear / (self.k_linear + 1.0))
        self._a_diffuse = math.sqrt(1.0 / (self.k_linear + 1.0))

    def los_gain(self, travelled_m: ArrayLike) -> NDArray[np.complex128]:
        """LOS term ``√(K/(K+1))·exp(j(k·s·cos θ0 + φ0))``; shapes as in :meth:`gain`."""
        s = self._travelled(travelled_m)
        gain = self._a_los * np.exp(1j * (s * self._k_los + self.los_phase_rad))
        return cast(NDArray[np.complex128], gain)

    def diffuse_gain(self, travelled_m: ArrayLike) -> NDArray[np.complex128]:
        """Diffuse term ``√(1/(K+1))·h_d(s)`` (mean power 1/(K+1)); shapes as in :meth:`gain`."""
        return self._a_diffuse * self.diffuse.gain(travelled_m)

    def gain(self, travelled_m: ArrayLike) -> NDArray[np.complex128]:
        s = self._travelled(travelled_m)
        return self.diffuse_gain(s) + self.los_gain(s)

    def __repr__(self) -> str:
        return (
            f"RicianProcess(n_links={self.n_links}, fc_hz={self.fc_hz!r}, "
            f"k_db={self.k_db!r}, n_paths={self.diffuse.n_paths})"
        )


@PROCESSES.register("nakagami")
class NakagamiProcess(CorrelatedFading):
    """Nakagami-m fading by inverse-CDF transformation of a Rayleigh SoS process.

    ``|h|² = P^(-1)(m, 1 - exp(-|h_r|²)) / m`` with ``h_r`` a :class:`SumOfSinusoids`
    (``P^(-1)`` the inverse regularised lower incomplete gamma function), so that an
    Exp(1) input gives ``|h|² ~ Gamma(m, 1/m)`` (Beaulieu & Cheng 2005, exact inverse).
    The phase of ``h`` is that of ``h_r`` (Nakagami-m specifies only the envelope).
    m = 1 returns ``|h_r|²`` unchanged. Draws what the Rayleigh process draws, nothing more.

    Parameters
    ----------
    n_links : int
        Number of independent links, >= 1.
    fc_hz : float
        Carrier frequency, Hz, > 0.
    m : float
        Shape parameter, finite and >= 0.5.
    rng : numpy.random.Generator
        Stream the underlying Rayleigh process draws from, at construction only.
    n_paths : int
        Sinusoids per quadrature of the underlying Rayleigh process, >= 1.

    Attributes
    ----------
    rayleigh : SumOfSinusoids
        The underlying unit-power Rayleigh process ``h_r``.
    """

    def __init__(
        self, n_links: int, fc_hz: float, m: float, rng: np.random.Generator, n_paths: int = 16
    ) -> None:
        super().__init__(n_links, fc_hz)
        value = _validate.finite("m", m)
        if value < 0.5:
            raise ValueError(f"m must be finite and >= 0.5, got {m!r}")
        self.m = value
        self.rayleigh = SumOfSinusoids(n_links, fc_hz, rng, n_paths=n_paths)

    def power(self, travelled_m: ArrayLike) -> NDArray[np.float64]:
        return self._transform(self.rayleigh.power(travelled_m))

    def gain(self, travelled_m: ArrayLike) -> NDArray[np.complex128]:
        h = self.rayleigh.gain(travelled_m)
        power = self._transform(h.real**2 + h.imag**2)
        return cast(NDArray[np.complex128], np.sqrt(power) * np.exp(1j * np.angle(h)))

    def _transform(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.m == 1.0:
            return p
        from scipy import special  # imported when used: scipy takes ~0.3 s to import

        # Exp(1) CDF then Gamma(m, 1/m) quantile; the lower form is accurate for small
        # powers (deep fades), the upper (complementary) form for large ones.
        tail = np.exp(-p)
        low = tail > 0.5
        out = np.empty_like(p)
        out[low] = special.gammaincinv(self.m, -np.expm1(-p[low]))
        out[~low] = special.gammainccinv(self.m, tail[~low])
        return out / self.m

    def __repr__(self) -> str:
        return (
            f"NakagamiProcess(n_links={self.n_links}, fc_hz={self.fc_hz!r}, m={self.m!r}, "
            f"n_paths={self.rayleigh.n_paths})"
        )


def _read_only(a: NDArray[np.float64]) -> NDArray[np.float64]:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a

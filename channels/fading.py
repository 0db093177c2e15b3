"""Small-scale fading: power-gain distributions |h|² with unit mean, and block fading.

A model is built by name (``make("rician", k_db=9.0)``). Each model draws |h|² with
``sample_power`` and gives the closed-form outage ``P(|h|²·snr_mean < threshold)``.
Adding a model is one ``FadingModel`` subclass (``sample_power`` + ``power_cdf``) plus
``@MODELS.register("name")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from channels import _validate
from fedsl_registry import Registry

MODELS: Registry[FadingModel] = Registry("fading model")


def make(name: str, /, **params: Any) -> FadingModel:
    """Build the fading model registered as ``name`` (see ``MODELS.names()``)."""
    return MODELS.make(name, **params)


class FadingModel:
    """Base class: distribution of the fading power gain |h|², normalised to E[|h|²] = 1.

    Subclasses implement ``sample_power`` and ``power_cdf``; ``outage_probability`` follows.
    ``deterministic`` is True for models that draw no randomness (|h|² ≡ 1). One entry
    carries everything about its distribution: the i.i.d. block draw (``sample_power``), its
    continuous-time process of the same marginal (:meth:`process`, a
    :mod:`channels.doppler` process registered under the same name), its density
    (:meth:`power_pdf`) and the ergodic rate (:meth:`ergodic_rate_bps`).
    """

    deterministic: bool = False
    #: the name of its continuous-time process in ``channels.doppler.PROCESSES``
    process_name: str = ""

    def params(self) -> dict[str, Any]:
        """The distribution's parameters (as ``make`` takes them)."""
        return {}

    def process(
        self, n_links: int, fc_hz: float, rng: np.random.Generator, **process_params: Any
    ) -> Any:
        """The continuous-time (Jakes/Clarke) process with this distribution as its marginal,
        of ``n_links`` links at carrier ``fc_hz``; ``process_params`` are the process's own
        (e.g. ``n_paths``)."""
        from channels import doppler  # the processes import nothing of this module

        return doppler.make(
            self.process_name,
            n_links=n_links,
            fc_hz=fc_hz,
            rng=rng,
            **self.params(),
            **process_params,
        )

    def power_pdf(self) -> Callable[[Any], Any] | None:
        """The density of |h|², or None for a point mass (no fading)."""
        return None

    def ergodic_rate_bps(self, bandwidth_hz: float, snr_mean: float) -> float:
        """``B·E[log2(1 + |h|²·snr_mean)]``, bit/s: numerically from :meth:`power_pdf`
        (adaptive quadrature), in closed form where a subclass has one."""
        pdf = self.power_pdf()
        if pdf is None:
            return bandwidth_hz * math.log2(1 + snr_mean)
        if snr_mean <= 0:
            return 0.0
        from scipy import integrate  # imported when used: scipy takes ~0.5 s to import

        value, _ = integrate.quad(
            lambda x: math.log2(1 + x * snr_mean) * pdf(x), 0, np.inf, limit=200
        )
        return float(bandwidth_hz * value)

    def sample_power(
        self, rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> NDArray[np.float64]:
        """Draw |h|² (linear, unit mean), array of shape ``size``, from ``rng``."""
        raise NotImplementedError

    def power_cdf(self, x: ArrayLike) -> Any:
        """``P(|h|² <= x)`` for x >= 0 (linear); x = inf gives 1."""
        raise NotImplementedError

    def outage_probability(self, snr_mean_linear: ArrayLike, threshold_linear: ArrayLike) -> Any:
        """Outage probability ``P(|h|²·snr_mean < threshold)``, closed form.

        Parameters
        ----------
        snr_mean_linear : float or array
            Mean SNR (without fading), linear, >= 0.
        threshold_linear : float or array
            SNR threshold, linear, >= 0. Broadcast against ``snr_mean_linear``.

        Returns
        -------
        float or array
            Probability in [0, 1]; 1 when snr_mean = 0 < threshold, 0 when threshold = 0.
        """
        snr = _validate.nonnegative_array("snr_mean_linear", snr_mean_linear)
        thr = _validate.nonnegative_array("threshold_linear", threshold_linear)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(thr == 0.0, 0.0, thr / snr)
        return self.power_cdf(x)


@MODELS.register("none")
class NoFading(FadingModel):
    """No fading: |h|² ≡ 1. Draws nothing from the generator."""

    deterministic = True
    process_name = "none"

    def sample_power(
        self, rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> NDArray[np.float64]:
        _validate.generator("rng", rng)
        return np.ones(size, dtype=np.float64)

    def power_cdf(self, x: ArrayLike) -> Any:
        # P(1 <= x): the outage P(1 < x) differs only at x = 1 exactly, handled below.
        return np.where(np.asarray(x, dtype=np.float64) >= 1.0, 1.0, 0.0)

    def outage_probability(self, snr_mean_linear: ArrayLike, threshold_linear: ArrayLike) -> Any:
        """Step function: 1 where ``snr_mean < threshold`` (strictly), else 0."""
        snr = _validate.nonnegative_array("snr_mean_linear", snr_mean_linear)
        thr = _validate.nonnegative_array("threshold_linear", threshold_linear)
        return np.where(snr < thr, 1.0, 0.0)

    def __repr__(self) -> str:
        return "NoFading()"


@MODELS.register("rayleigh")
class Rayleigh(FadingModel):
    """Rayleigh fading: |h|² ~ Exponential(1); ``P(|h|² <= x) = 1 - exp(-x)``."""

    process_name = "rayleigh"

    def power_pdf(self) -> Callable[[Any], Any]:
        from scipy import stats

        return cast(Callable[[Any], Any], stats.expon().pdf)

    def ergodic_rate_bps(self, bandwidth_hz: float, snr_mean: float) -> float:
        """Closed form: ``B·e^(1/s)·E1(1/s) / ln 2`` for the mean SNR s."""
        if snr_mean <= 0:
            return 0.0
        x = 1 / snr_mean
        if x < 700:
            from scipy import special

            scaled = math.exp(x) * special.exp1(x)
        else:  # e^x E1(x) overflows as a product: its asymptotic series, exact to ~1e-11
            scaled = (1 - 1 / x + 2 / x**2 - 6 / x**3) / x
        return float(bandwidth_hz * scaled / math.log(2))

    def sample_power(
        self, rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> NDArray[np.float64]:
        _validate.generator("rng", rng)
        return rng.standard_exponential(size)

    def power_cdf(self, x: ArrayLike) -> Any:
        return -np.expm1(-np.asarray(x, dtype=np.float64))

    def __repr__(self) -> str:
        return "Rayleigh()"


@MODELS.register("rician")
class Rician(FadingModel):
    """Rician fading with K-factor ``K = 10**(k_db/10)`` (LOS power / scattered power).

    ``|h|² = |√(K/(K+1)) + CN(0, 1/(K+1))|²``, i.e. ``2(K+1)·|h|² ~ χ'²(2, 2K)``
    (non-central chi-square, 2 degrees of freedom, non-centrality 2K); unit mean.

    Parameters
    ----------
    k_db : float
        K-factor, dB, < +inf. Very negative values (including -inf) tend to Rayleigh.
    """

    def __init__(self, k_db: float) -> None:
        k = _validate.to_float("k_db", k_db)
        if math.isnan(k) or k == math.inf:
            raise ValueError(f"k_db must be a real number < +inf (dB), got {k_db!r}")
        self.k_db = k
        self.k_linear = 10.0 ** (k / 10.0)

    process_name = "rician"

    def params(self) -> dict[str, Any]:
        return {"k_db": self.k_db}

    def power_pdf(self) -> Callable[[Any], Any]:
        from scipy import stats

        k = self.k_linear
        # |h|² = X / (2 (K + 1)) with X ~ noncentral chi-square(2, 2K)
        return lambda x: 2 * (k + 1) * stats.ncx2(2, 2 * k).pdf(2 * (k + 1) * x)

    def sample_power(
        self, rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> NDArray[np.float64]:
        _validate.generator("rng", rng)
        k = self.k_linear
        draws = rng.noncentral_chisquare(2.0, 2.0 * k, size) / (2.0 * (k + 1.0))
        return cast(NDArray[np.float64], draws)

    def power_cdf(self, x: ArrayLike) -> Any:
        k = self.k_linear
        scaled = 2.0 * (k + 1.0) * np.asarray(x, dtype=np.float64)
        if k == 0.0:  # central chi-square with 2 dof = Exponential(1/2)
            return -np.expm1(-scaled / 2.0)
        from scipy import stats

        return stats.ncx2.cdf(scaled, 2.0, 2.0 * k)

    def __repr__(self) -> str:
        return f"Rician(k_db={self.k_db!r})"


@MODELS.register("nakagami")
class Nakagami(FadingModel):
    """Nakagami-m fading: |h|² ~ Gamma(shape=m, scale=1/m); ``P(|h|² <= x) = P(m, m·x)``.

    ``P`` is the regularised lower incomplete gamma function. m = 1 is Rayleigh; m -> inf
    tends to no fading.

    Parameters
    ----------
    m : float
        Shape parameter, >= 0.5 (finite).
    """

    def __init__(self, m: float) -> None:
        value = _validate.finite("m", m)
        if value < 0.5:
            raise ValueError(f"m must be finite and >= 0.5, got {m!r}")
        self.m = value

    process_name = "nakagami"

    def params(self) -> dict[str, Any]:
        return {"m": self.m}

    def power_pdf(self) -> Callable[[Any], Any]:
        from scipy import stats

        return cast(Callable[[Any], Any], stats.gamma(self.m, scale=1 / self.m).pdf)

    def sample_power(
        self, rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> NDArray[np.float64]:
        _validate.generator("rng", rng)
        return rng.gamma(self.m, 1.0 / self.m, size)

    def power_cdf(self, x: ArrayLike) -> Any:
        from scipy import special

        return special.gammainc(self.m, self.m * np.asarray(x, dtype=np.float64))

    def __repr__(self) -> str:
        return f"Nakagami(m={self.m!r})"


class BlockFading:
    """Block fading: |h|² of each link is i.i.d. per coherence block, constant within one.

    Block ``j`` covers ``[j·coherence_s, (j+1)·coherence_s)`` of simulated time. Values are
    drawn lazily from ``rng`` in chunks of ``chunk_blocks`` blocks (an array of shape
    ``(chunk_blocks, n_links)`` per chunk), always in increasing chunk order, so block j has
    the same values whatever order blocks are queried in.

    Memory: every drawn chunk is kept (8 bytes per link per block, e.g. 10 links at 10 ms
    coherence for one simulated hour = 29 MB) unless the caller frees past chunks with
    ``discard_before``. For a deterministic model (``none``) nothing is drawn or stored.

    Parameters
    ----------
    model : FadingModel
        Distribution of |h|² per block and link.
    n_links : int
        Number of links, >= 1.
    coherence_s : float
        Coherence time (block length), seconds, > 0.
    rng : numpy.random.Generator
        The stream every draw comes from (owned by this object from now on).
    chunk_blocks : int
        Blocks drawn per chunk, >= 1.
    """

    def __init__(
        self,
        model: FadingModel,
        n_links: int,
        coherence_s: float,
        rng: np.random.Generator,
        chunk_blocks: int = 1024,
    ) -> None:
        if not isinstance(model, FadingModel):
            raise TypeError(f"model must be a FadingModel, got {type(model).__name__}")
        self.model = model
        self.n_links = _validate.integer("n_links", n_links, 1)
        self.coherence_s = _validate.positive("coherence_s", coherence_s)
        self.chunk_blocks = _validate.integer("chunk_blocks", chunk_blocks, 1)
        self._rng = _validate.generator("rng", rng)
        self._chunks: dict[int, NDArray[np.float64]] = {}
        self._next_chunk = 0  # chunks [0, _next_chunk) have been drawn
        self._first_kept_chunk = 0
        self._ones = np.ones(self.n_links, dtype=np.float64)
        self._ones.flags.writeable = False

    def power(self, j: int) -> NDArray[np.float64]:
        """|h|² (linear, unit mean) of every link in block ``j`` (>= 0): shape (n_links,).

        The returned array is read-only (a view of the stored chunk).
        """
        j = _validate.integer("j", j, 0)
        if self.model.deterministic:
            return self._ones
        c, row = divmod(j, self.chunk_blocks)
        if c < self._first_kept_chunk:
            raise ValueError(
                f"block j={j} was discarded (blocks before "
                f"{self._first_kept_chunk * self.chunk_blocks} were freed by discard_before)"
            )
        while self._next_chunk <= c:
            # Chunks are drawn strictly in order (also discarded ones) so that block values
            # do not depend on which blocks were queried.
            chunk = self.model.sample_power(self._rng, (self.chunk_blocks, self.n_links))
            if self._next_chunk >= self._first_kept_chunk:
                chunk = np.asarray(chunk, dtype=np.float64)
                chunk.flags.writeable = False
                self._chunks[self._next_chunk] = chunk
            self._next_chunk += 1
        return cast(NDArray[np.float64], self._chunks[c][row])

    def powers(self, j0: int, count: int) -> NDArray[np.float64]:
        """|h|² of every link in blocks ``j0 .. j0+count-1``: shape (count, n_links).

        Same values as ``power(j)`` block by block (read-only: a view of the drawn chunk when
        the blocks are exactly one chunk, else a new array).
        """
        j0 = _validate.integer("j0", j0, 0)
        count = _validate.integer("count", count, 1)
        if self.model.deterministic:
            return np.ones((count, self.n_links), dtype=np.float64)
        first, last = j0 // self.chunk_blocks, (j0 + count - 1) // self.chunk_blocks
        self.power(j0 + count - 1)  # draws every chunk up to the last one, in order
        if first < self._first_kept_chunk:
            self.power(j0)  # raises the discarded-block error
        size = self.chunk_blocks
        parts = [  # each chunk's rows only (no copy of whole chunks)
            self._chunks[c][max(j0 - c * size, 0) : min(j0 + count - c * size, size)]
            for c in range(first, last + 1)
        ]
        if len(parts) == 1 and len(parts[0]) == size:
            return parts[0]  # a whole chunk: a view (a part would keep the chunk alive)
        return np.concatenate(parts)

    def start_s(self, j: int) -> float:
        """Start time of block ``j``, seconds: exactly ``j * coherence_s``."""
        return j * self.coherence_s

    def index_at(self, t_s: float) -> int:
        """Block ``j`` with ``start_s(j) <= t_s < start_s(j + 1)``; ``t_s`` finite and >= 0.

        Uses the same products as ``start_s``, so ``index_at(start_s(j)) == j`` exactly even
        where ``t_s / coherence_s`` rounds below j.
        """
        t = _validate.nonnegative("t_s", t_s)
        j = int(math.floor(t / self.coherence_s))
        while j > 0 and self.start_s(j) > t:
            j -= 1
        while self.start_s(j + 1) <= t:
            j += 1
        return j

    def discard_before(self, j: int) -> None:
        """Free the stored chunks that lie wholly before block ``j`` (>= 0).

        Later ``power(i)`` calls for a freed block raise ``ValueError``; values of the other
        blocks are unchanged. Call it when simulated time has passed ``start_s(j)``.
        """
        j = _validate.integer("j", j, 0)
        first = j // self.chunk_blocks
        for c in range(self._first_kept_chunk, min(first, self._next_chunk)):
            self._chunks.pop(c, None)
        self._first_kept_chunk = max(self._first_kept_chunk, first)

    def __repr__(self) -> str:
        return (
            f"BlockFading(model={self.model!r}, n_links={self.n_links}, "
            f"coherence_s={self.coherence_s!r}, chunk_blocks={self.chunk_blocks})"
        )

"""channels.doppler: Clarke-spectrum fading over travelled distance (statistics vs closed forms,
reference formulas, continuity, determinism, call-order independence, validation)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from channels import doppler

FC_HZ = 3.5e9
LAM_M = 299_792_458.0 / FC_HZ  # λ = c/fc = 0.0856549880 m
M_PATHS = 16  # default n_paths

# KS sample size. With M = 16 sinusoids per quadrature the SoS marginal is not exactly
# Gaussian (E|h|⁴ = 2 - 3/(4M)): its |h|² CDF lies up to ~0.006 from Exp(1), which shifts
# the KS statistic by 0.006·√n. Measured over 200 seeds, p < 0.01 occurred for 1 % of them at
# n = 4000 (the nominal rate) but 7 % at n = 8000. 4000 samples keep the finite-M error below
# the test's resolution while the wrong distributions in the guards are rejected by far.
KS_LINKS, KS_POINTS = 400, 10
KS_SPACING_M = 37.3 * LAM_M  # points tens of wavelengths apart: ~independent within a link


def _ks_distances(n_links: int = KS_LINKS) -> np.ndarray:
    return np.broadcast_to(np.arange(KS_POINTS)[:, None] * KS_SPACING_M, (KS_POINTS, n_links))


def _k(k_db: float) -> float:
    return 10.0 ** (k_db / 10.0)


def _rician_power_dist(k_db: float):
    # |h|² = χ'²(2, 2K) / (2(K+1)), as channels.fading.Rician
    k = _k(k_db)
    return stats.ncx2(2.0, 2.0 * k, scale=1.0 / (2.0 * (k + 1.0)))


# ---------------------------------------------------------------- helpers (reference values)


# (fc_hz, speed_mps, f_D = v·fc/c Hz, T_c = √(9/(16π))/f_D s)
HELPER_REFERENCE = [
    # 3 km/h at 3.5 GHz: (3/3.6)·3.5e9/299792458 = 9.7289528 Hz; 0.4231422/9.7289528 = 43.4931 ms
    (3.5e9, 3.0 / 3.6, 9.728952777, 0.043493087),
    # 30 m/s at 2 GHz: 30·2e9/299792458 = 200.1384571 Hz; 0.4231422/200.1384571 = 2.114247 ms
    (2.0e9, 30.0, 200.1384571, 0.002114247),
]


@pytest.mark.parametrize(("fc", "v", "fd", "tc"), HELPER_REFERENCE)
def test_doppler_and_coherence_reference(fc, v, fd, tc):
    assert doppler.doppler_hz(fc, v) == pytest.approx(fd, rel=1e-9)
    assert doppler.coherence_time_s(fc, v) == pytest.approx(tc, rel=1e-6)
    # coherence distance = 0.4231422·λ = T_c·v
    assert doppler.coherence_distance_m(fc) == pytest.approx(tc * v, rel=1e-6)
    assert doppler.wavelength_m(fc) == pytest.approx(299_792_458.0 / fc, rel=1e-15)


def test_coherence_convention_and_arrays():
    assert doppler.COHERENCE_FACTOR == pytest.approx(0.4231422, abs=1e-7)  # √(9/(16π))
    # 3.5 GHz: 0.4231422 · 0.0856549880 m = 0.0362442 m
    assert doppler.coherence_distance_m(FC_HZ) == pytest.approx(0.0362442, rel=1e-5)
    tc = doppler.coherence_time_s(FC_HZ, [0.0, 1.0, 2.0])
    assert tc.shape == (3,) and tc[0] == math.inf
    assert tc[1] == pytest.approx(2.0 * tc[2], rel=1e-15)
    np.testing.assert_allclose(doppler.doppler_hz(FC_HZ, [0.0, LAM_M]), [0.0, 1.0], rtol=1e-15)


# ------------------------------------------------------------------ Rayleigh: the SoS model


def test_sos_matches_the_zheng_xiao_formula():
    # h(s) = M^-1/2 Σ_n [cos(k s cos α_n + φ_n) + j cos(k s sin α_n + ϕ_n)],
    # α_n = (2πn - π + θ)/(4M), k = 2π/λ; draws: θ (n_links), φ (n_links, M), ϕ (n_links, M)
    n_links, m = 2, 3
    proc = doppler.SumOfSinusoids(n_links, FC_HZ, np.random.default_rng(42), n_paths=m)
    ref = np.random.default_rng(42)
    theta = ref.uniform(-math.pi, math.pi, n_links)
    phi = ref.uniform(-math.pi, math.pi, (n_links, m))
    varphi = ref.uniform(-math.pi, math.pi, (n_links, m))
    k = 2.0 * math.pi / LAM_M
    s = np.array([[0.0, 0.0], [0.01, 1.234], [7.5, 0.003]])
    expected = np.empty(s.shape, dtype=complex)
    for t in range(s.shape[0]):
        for link in range(n_links):
            acc = 0j
            for n in range(1, m + 1):
                alpha = (2.0 * math.pi * n - math.pi + theta[link]) / (4.0 * m)
                acc += math.cos(k * s[t, link] * math.cos(alpha) + phi[link, n - 1])
                acc += 1j * math.cos(k * s[t, link] * math.sin(alpha) + varphi[link, n - 1])
            expected[t, link] = acc / math.sqrt(m)
    got = proc.gain(s)
    assert got.shape == (3, 2) and got.dtype == np.complex128
    # the cosines are taken in float32 after an exact float64 phase reduction: each of the
    # 2M terms within ~1e-7 (float32 ulp at 1 is 1.2e-7), so h within 2M * 1e-7 / sqrt(M)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    # at s = 0 only the phases matter: h(0) = M^-1/2 Σ (cos φ_n + j cos ϕ_n)
    np.testing.assert_allclose(
        got[0], (np.cos(phi).sum(1) + 1j * np.cos(varphi).sum(1)) / math.sqrt(m), atol=1e-6
    )
    np.testing.assert_allclose(proc.angles_rad[:, 0], (math.pi + theta) / (4.0 * m), atol=1e-15)
    assert np.all((proc.angles_rad >= 0.0) & (proc.angles_rad < math.pi / 2.0))
    # exactly these draws, all at construction: both streams are now in the same state
    rng = np.random.default_rng(42)
    doppler.SumOfSinusoids(n_links, FC_HZ, rng, n_paths=m).gain(s)
    assert rng.bit_generator.state == ref.bit_generator.state


def test_rayleigh_marginal_is_exponential():
    proc = doppler.make("rayleigh", n_links=KS_LINKS, fc_hz=FC_HZ, rng=np.random.default_rng(11))
    x = proc.power(_ks_distances()).ravel()
    n = x.size
    assert x.dtype == np.float64 and np.all(x >= 0.0)
    # E|h|² = 1 within 5 standard errors (Var = 1 for Exp(1))
    assert abs(x.mean() - 1.0) < 5.0 / math.sqrt(n)
    assert stats.kstest(x, stats.expon().cdf).pvalue > 0.01
    # guard: the same test rejects Exp(mean 1.2) — a 20 % power error
    assert stats.kstest(x, stats.expon(scale=1.2).cdf).pvalue < 1e-6


def test_fourth_moment_is_stationary_from_s_zero():
    # Why the 2002 model (independent phases) and not Zheng & Xiao 2003 (one shared phase):
    # E|h|⁴ = 2 - 3/(4M) = 1.953125 (M = 16) at s = 0 as anywhere, while the shared-phase
    # model gives 3 - 3/(2M) = 2.906 at s = 0. Var(|h|⁴) ≈ E|h|⁸ - 4 = 20 for Rayleigh.
    n = 20_000
    proc = doppler.SumOfSinusoids(n, FC_HZ, np.random.default_rng(8))
    expected = 2.0 - 3.0 / (4.0 * M_PATHS)
    tol = 5.0 * math.sqrt(20.0 / n)  # 0.158
    for s in (0.0, 123.4 * LAM_M):
        x = proc.power(np.full(n, s))
        assert abs(np.mean(x**2) - expected) < tol
        assert abs(np.mean(x) - 1.0) < 5.0 / math.sqrt(n)


def test_rayleigh_autocorrelation_is_j0():
    # E[h(s)·h*(s+Δ)] = J0(2πΔ/λ) = J0(2π f_D τ). Estimated from L links × P origins spread
    # over 10^4 wavelengths (~independent). For circular Gaussian h with correlation ρ:
    # Var Re(h0·h1*) = (1 + ρ²)/2 and Var Im(h0·h1*) = (1 - ρ²)/2 → 5 standard errors.
    n_links, n_origins = 500, 200
    n = n_links * n_origins
    proc = doppler.SumOfSinusoids(n_links, FC_HZ, np.random.default_rng(3))
    s0 = np.random.default_rng(4).uniform(0.0, 1e4 * LAM_M, (n_origins, n_links))
    h0 = proc.gain(s0)
    # x = 2πΔ/λ: J0(0.5) = 0.93847, J0(1) = 0.76520, J0(2.405) ≈ 0 (first zero),
    # J0(4) = -0.39715
    for x, j0 in [(0.5, 0.93847), (1.0, 0.76520), (2.405, -0.0000906), (4.0, -0.39715)]:
        assert special.j0(x) == pytest.approx(j0, abs=1e-5)
        r = np.mean(h0 * np.conj(proc.gain(s0 + x * LAM_M / (2.0 * math.pi))))
        tol_re = 5.0 * math.sqrt((1.0 + j0**2) / (2.0 * n))
        assert abs(r.real - j0) < tol_re
        assert abs(r.imag) < 5.0 * math.sqrt((1.0 - j0**2) / (2.0 * n))
        # guard: a 10 % error in the Doppler frequency would be detected at this lag
        if x in (1.0, 4.0):
            assert abs(special.j0(1.1 * x) - j0) > tol_re
    # pseudo-covariance E[h(s)·h(s+Δ)] = 0 (circular), here at Δ = 0: E[h²]
    assert abs(np.mean(h0 * h0)) < 5.0 * math.sqrt(2.0 / n)


@pytest.mark.parametrize("rho", [0.5, 1.0])
def test_rayleigh_level_crossing_rate(rho):
    # N_R = √(2π)·f_D·ρ·exp(-ρ²) upward crossings per second of |h| at level ρ·rms (rms = 1):
    # ρ = 0.5: √(2π)·0.5·e^-0.25 = 0.97608·f_D; ρ = 1: √(2π)·e^-1 = 0.92214·f_D.
    # 16 links × 2000 Doppler periods sampled 40 times per period (~3e4 crossings at ρ = 1);
    # the measured M = 16 bias (and the sampling's missed short fades) is within ~2.5 %.
    fd, per_period, periods, n_links = 10.0, 40, 2000, 16
    proc = doppler.SumOfSinusoids(n_links, FC_HZ, np.random.default_rng(5))
    t = np.arange(periods * per_period) / (per_period * fd)
    r = np.sqrt(proc.power_at_time(t, fd))
    ups = np.sum((r[:-1] < rho) & (r[1:] >= rho))
    rate = ups / ((t[-1] - t[0]) * n_links)
    expected = math.sqrt(2.0 * math.pi) * fd * rho * math.exp(-(rho**2))
    assert expected == pytest.approx({0.5: 9.7608, 1.0: 9.2214}[rho], rel=1e-4)
    assert rate == pytest.approx(expected, rel=0.05)


# ---------------------------------------------------------------------------------- Rician


@pytest.mark.parametrize("k_db", [10.0, 3.0, 0.0])
def test_rician_power_split_and_marginal(k_db):
    proc = doppler.make(
        "rician", n_links=KS_LINKS, fc_hz=FC_HZ, rng=np.random.default_rng(21), k_db=k_db
    )
    s = _ks_distances()
    k = _k(k_db)
    # LOS power is exactly K/(K+1) at every point (K = 10: 0.909091; K = 1: 0.5)
    np.testing.assert_allclose(np.abs(proc.los_gain(s)) ** 2, k / (k + 1.0), rtol=1e-12)
    n = s.size
    diffuse = np.abs(proc.diffuse_gain(s)) ** 2
    # diffuse power 1/(K+1), Exp-distributed: standard error (1/(K+1))/√n
    assert abs(diffuse.mean() - 1.0 / (k + 1.0)) < 5.0 / ((k + 1.0) * math.sqrt(n))
    x = proc.power(s).ravel()
    dist = _rician_power_dist(k_db)
    # E|h|² = 1; Var|h|² = (1 + 2K)/(K+1)²
    assert abs(x.mean() - 1.0) < 5.0 * math.sqrt(dist.var() / n)
    assert dist.mean() == pytest.approx(1.0, rel=1e-12)
    assert stats.kstest(x, dist.cdf).pvalue > 0.01
    np.testing.assert_allclose(proc.gain(s), proc.diffuse_gain(s) + proc.los_gain(s), atol=0)


def test_rician_los_doppler_reference():
    # LOS phase advances by k·Δs·cos θ0: θ0 = 0 and Δs = λ/4 give +π/2 (a factor j);
    # θ0 = π/3 halves the rate (cos = 0.5): Δs = λ/2 gives +π/2; θ0 = π/2 gives no Doppler.
    proc = doppler.RicianProcess(
        3, FC_HZ, 6.0, np.random.default_rng(2), los_angle_rad=[0.0, math.pi / 3, math.pi / 2]
    )
    s0 = np.array([1.0, 2.0, 3.0])
    ratio = proc.los_gain(s0 + np.array([LAM_M / 4, LAM_M / 2, 5.0])) / proc.los_gain(s0)
    np.testing.assert_allclose(ratio, [1j, 1j, 1.0], atol=1e-12)
    np.testing.assert_allclose(proc.los_angle_rad, [0.0, math.pi / 3, math.pi / 2])
    # scalar angle broadcast to all links
    scalar = doppler.RicianProcess(3, FC_HZ, 6.0, np.random.default_rng(2), los_angle_rad=0.0)
    np.testing.assert_array_equal(scalar.los_angle_rad, [0.0, 0.0, 0.0])


def test_rician_k_minus_inf_is_the_rayleigh_process():
    # the diffuse part is drawn first from the same stream: with K = 0 the two coincide
    s = np.random.default_rng(0).uniform(0.0, 5.0, (20, 4))
    ric = doppler.make(
        "rician", n_links=4, fc_hz=FC_HZ, rng=np.random.default_rng(6), k_db=-math.inf
    )
    ray = doppler.make("rayleigh", n_links=4, fc_hz=FC_HZ, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(ric.gain(s), ray.gain(s))


# -------------------------------------------------------------------------------- Nakagami


@pytest.mark.parametrize("m", [0.5, 2.0, 3.7])
def test_nakagami_marginal(m):
    proc = doppler.make(
        "nakagami", n_links=KS_LINKS, fc_hz=FC_HZ, rng=np.random.default_rng(31), m=m
    )
    x = proc.power(_ks_distances()).ravel()
    n = x.size
    # |h|² ~ Gamma(m, scale 1/m): mean 1, variance 1/m; |h| ~ scipy nakagami(nu=m, scale=1)
    assert abs(x.mean() - 1.0) < 5.0 * math.sqrt(1.0 / (m * n))
    assert stats.kstest(x, stats.gamma(m, scale=1.0 / m).cdf).pvalue > 0.01
    assert stats.kstest(np.sqrt(x), stats.nakagami(m).cdf).pvalue > 0.01
    # guard: the same test rejects Rayleigh (m = 1) for these m
    assert stats.kstest(x, stats.expon().cdf).pvalue < 1e-6


def test_nakagami_gain_power_and_m_one():
    s = np.random.default_rng(1).uniform(0.0, 3.0, (50, 6))
    proc = doppler.NakagamiProcess(6, FC_HZ, 2.5, np.random.default_rng(4))
    h = proc.gain(s)
    np.testing.assert_allclose(np.abs(h) ** 2, proc.power(s), rtol=1e-12)
    # the phase is that of the underlying Rayleigh process
    np.testing.assert_allclose(np.angle(h), np.angle(proc.rayleigh.gain(s)), atol=1e-12)
    # m = 1 is the Rayleigh process itself
    one = doppler.NakagamiProcess(6, FC_HZ, 1.0, np.random.default_rng(4))
    ray = doppler.SumOfSinusoids(6, FC_HZ, np.random.default_rng(4))
    np.testing.assert_array_equal(one.power(s), ray.power(s))
    # the transform is the Gamma(m, 1/m) quantile of the Exp(1) CDF:
    # |h_r|² = ln 2 (median of Exp(1)) ↦ median of Gamma(2.5, 1/2.5) = 0.870292...
    p = np.array([math.log(2.0), 1e-9, 30.0])
    got = proc._transform(p)
    assert got[0] == pytest.approx(0.870292, rel=1e-6)
    assert got[0] == pytest.approx(stats.gamma(2.5, scale=0.4).median(), rel=1e-10)
    # reference: ppf of the CDF for small powers, isf of the tail for large ones (the tail
    # 1 - e^-30 would round in the ppf form; the implementation switches forms the same way)
    ref = stats.gamma(2.5, scale=0.4)
    np.testing.assert_allclose(got[:2], ref.ppf(-np.expm1(-p[:2])), rtol=1e-9)
    assert got[2] == pytest.approx(ref.isf(math.exp(-30.0)), rel=1e-9)


# ----------------------------------------------------------------- continuity and coherence


ALL = [("none", {}), ("rayleigh", {}), ("rician", {"k_db": 9.0}), ("nakagami", {"m": 2.0})]
ALL_IDS = [name for name, _ in ALL]


@pytest.mark.parametrize(("name", "params"), ALL, ids=ALL_IDS)
def test_device_at_rest_keeps_its_gain(name, params):
    proc = doppler.make(name, n_links=3, fc_hz=FC_HZ, rng=np.random.default_rng(9), **params)
    # link 0 stays at s = 2.5 m while link 1 moves and link 2 pauses then moves again
    s = np.array([[2.5, 0.0, 1.0], [2.5, 0.4, 1.0], [2.5, 0.8, 1.0], [2.5, 1.2, 1.7]])
    h = proc.gain(s)
    assert np.all(h[:, 0] == h[0, 0])
    assert np.all(h[:3, 2] == h[0, 2])
    p = proc.power(s)
    assert np.all(p[:, 0] == p[0, 0])
    if name != "none":
        assert len(set(h[:, 1].tolist())) == 4


@pytest.mark.parametrize(("name", "params"), ALL[1:], ids=ALL_IDS[1:])
def test_one_ms_apart_at_3_kmh_is_highly_correlated(name, params):
    # 3 km/h at 3.5 GHz: f_D = 9.729 Hz; τ = 1 ms → J0(2π·9.729e-3) = J0(0.06113) = 0.99907
    fd = doppler.doppler_hz(FC_HZ, 3.0 / 3.6)
    assert special.j0(2.0 * math.pi * fd * 1e-3) == pytest.approx(0.99907, abs=1e-5)
    n_links = 200
    proc = doppler.make(name, n_links=n_links, fc_hz=FC_HZ, rng=np.random.default_rng(7), **params)
    t = np.random.default_rng(8).uniform(0.0, 600.0, 50)
    h0, h1 = proc.gain_at_time(t, fd), proc.gain_at_time(t + 1e-3, fd)
    # the time form is the distance form at s = v·t
    np.testing.assert_allclose(h0, proc.gain(t[:, None] * np.full(n_links, 3.0 / 3.6)), atol=1e-9)

    # correlation coefficient over links and times (every process here has zero mean: the
    # LOS phase φ0 is uniform per link)
    def corr(a, b):
        return abs(np.vdot(a, b)) / math.sqrt(np.vdot(a, a).real * np.vdot(b, b).real)

    assert corr(h0, h1) > 0.9
    # and 1 s apart (J0(2π·9.729) = J0(61.13) = -0.081) they are nearly uncorrelated
    assert corr(h0, proc.gain_at_time(t + 1.0, fd)) < 0.3


@pytest.mark.parametrize(("name", "params"), ALL, ids=ALL_IDS)
def test_same_seed_same_values_and_any_evaluation_order(name, params):
    def build(seed):
        return doppler.make(name, n_links=5, fc_hz=FC_HZ, rng=np.random.default_rng(seed), **params)

    s = np.random.default_rng(0).uniform(0.0, 20.0, (301, 5))
    ref = build(12).gain(s)
    np.testing.assert_array_equal(build(12).gain(s), ref)
    if name != "none":
        assert not np.array_equal(build(13).gain(s), ref)
    # shuffled rows, single rows, reversed halves: the same values, exactly
    proc = build(12)
    perm = np.random.default_rng(1).permutation(301)
    np.testing.assert_array_equal(proc.gain(s[perm]), ref[perm])
    np.testing.assert_array_equal(proc.gain(s[200:])[::-1], ref[200:][::-1])
    np.testing.assert_array_equal(proc.gain(s[150:]), ref[150:])
    for i in (300, 0, 77):
        np.testing.assert_array_equal(proc.gain(s[i]), ref[i])
    np.testing.assert_array_equal(proc.power(s[perm]), build(12).power(s)[perm])


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.floats(min_value=0.0, max_value=1e4), min_size=3, max_size=3),
        min_size=1,
        max_size=12,
    )
)
def test_values_depend_only_on_the_distance(rows):
    proc = doppler.RicianProcess(3, FC_HZ, 3.0, np.random.default_rng(5), n_paths=8)
    s = np.array(rows)
    h = proc.gain(s)
    assert h.shape == s.shape
    for i, row in enumerate(s):
        np.testing.assert_array_equal(proc.gain(row), h[i])
    p = proc.power(s)
    # |h| <= √(1/(K+1))·√(2M) + √(K/(K+1)) for the bounded SoS
    k = _k(3.0)
    assert np.all(np.sqrt(p) <= math.sqrt(16.0 / (k + 1.0)) + math.sqrt(k / (k + 1.0)) + 1e-12)


def test_none_is_one_and_draws_nothing():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    proc = doppler.make("none", n_links=2, fc_hz=FC_HZ, rng=rng)
    assert proc.deterministic
    h = proc.gain(np.zeros((4, 2)))
    assert h.shape == (4, 2) and np.all(h == 1.0)
    assert np.all(proc.power_at_time(1.0, 3.0) == 1.0)
    assert rng.bit_generator.state == state


def test_shapes_of_the_time_form():
    proc = doppler.SumOfSinusoids(4, FC_HZ, np.random.default_rng(0))
    assert proc.gain_at_time(0.5, 10.0).shape == (4,)
    assert proc.power_at_time([0.0, 0.5, 1.0], [1.0, 2.0, 3.0, 4.0]).shape == (3, 4)
    # zero Doppler: the channel is frozen at its s = 0 value
    np.testing.assert_array_equal(proc.gain_at_time([0.0, 9.0], 0.0)[1], proc.gain(np.zeros(4)))
    assert proc.gain(np.zeros((0, 4))).shape == (0, 4)


# -------------------------------------------------------------------- registry, validation


def test_registry():
    assert set(doppler.PROCESSES.names()) == {"none", "rayleigh", "rician", "nakagami"}
    assert isinstance(
        doppler.make("rayleigh", n_links=1, fc_hz=FC_HZ, rng=np.random.default_rng(0)),
        doppler.SumOfSinusoids,
    )
    with pytest.raises(KeyError, match="unknown time-correlated fading 'weibull'"):
        doppler.make("weibull", n_links=1, fc_hz=FC_HZ, rng=np.random.default_rng(0))
    assert "n_paths=16" in repr(doppler.make("nakagami", 2, FC_HZ, np.random.default_rng(0), m=2))


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("rayleigh", {"n_links": 0}, "n_links must be an integer >= 1, got 0"),
        ("rayleigh", {"n_links": 2.0}, "n_links must be an integer >= 1"),
        ("rayleigh", {"fc_hz": -1.0}, r"fc_hz must be finite and > 0, got -1.0"),
        ("rayleigh", {"fc_hz": math.inf}, "fc_hz must be finite and > 0"),
        ("rayleigh", {"n_paths": 0}, "n_paths must be an integer >= 1, got 0"),
        ("rician", {"k_db": math.nan}, "k_db must be a real number < \\+inf"),
        ("rician", {"k_db": math.inf}, "k_db must be a real number < \\+inf"),
        ("rician", {"k_db": 3.0, "los_angle_rad": [0.0, 1.0]}, r"los_angle_rad .* shape \(3,\)"),
        ("rician", {"k_db": 3.0, "los_angle_rad": math.nan}, "los_angle_rad must be finite"),
        ("nakagami", {"m": 0.49}, "m must be finite and >= 0.5, got 0.49"),
        ("nakagami", {"m": math.inf}, "m must be finite"),
    ],
)
def test_invalid_parameters(name, kwargs, message):
    args = {"n_links": 3, "fc_hz": FC_HZ, "rng": np.random.default_rng(0)} | kwargs
    with pytest.raises(ValueError, match=message):
        doppler.make(name, **args)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda p: p.gain(np.zeros(4)),
            r"travelled_m must have shape .* n_links=3.* got shape \(4,\)",
        ),
        (lambda p: p.gain(np.zeros((2, 2, 3))), r"travelled_m must have shape"),
        (lambda p: p.gain(5.0), r"travelled_m must have shape"),
        (lambda p: p.power([0.0, -1.0, 0.0]), r"travelled_m must be finite and >= 0.*-1.0"),
        (lambda p: p.gain([0.0, math.nan, 0.0]), r"travelled_m must be finite and >= 0"),
        (lambda p: p.gain_at_time(-1.0, 5.0), r"t_s must be finite and >= 0.*-1.0"),
        (lambda p: p.gain_at_time(np.zeros((2, 2)), 5.0), r"t_s must be a scalar or a 1-D"),
        (lambda p: p.gain_at_time(1.0, [1.0, 2.0]), r"doppler_hz must be a scalar or .*\(3,\)"),
        (lambda p: p.power_at_time(1.0, -2.0), r"doppler_hz must be finite and >= 0"),
    ],
)
def test_invalid_arguments(call, message):
    proc = doppler.make("rician", n_links=3, fc_hz=FC_HZ, rng=np.random.default_rng(0), k_db=3.0)
    with pytest.raises(ValueError, match=message):
        call(proc)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: doppler.doppler_hz(0.0, 1.0), "fc_hz must be finite and > 0"),
        (lambda: doppler.doppler_hz(FC_HZ, -1.0), "speed_mps must be finite and >= 0"),
        (lambda: doppler.coherence_time_s(FC_HZ, math.nan), "speed_mps must be finite"),
        (lambda: doppler.coherence_distance_m(-3.0), "fc_hz must be finite and > 0, got -3.0"),
    ],
)
def test_invalid_helper_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_requires_a_generator():
    for name, params in ALL:
        with pytest.raises(TypeError, match="numpy.random.Generator"):
            doppler.make(name, n_links=2, fc_hz=FC_HZ, rng=None, **params)


def test_fast_cosines_stay_accurate_far_along_the_path():
    # 10 km travelled at 3.5 GHz is ~1.2e5 wavelengths: phases ~7e5 rad. The float64
    # reduction keeps the float32 cosine within ~1e-6 of the float64 formula
    proc = doppler.SumOfSinusoids(3, FC_HZ, np.random.default_rng(1), n_paths=8)
    s = np.linspace(9_000.0, 10_000.0, 1001)[:, None].repeat(3, axis=1)
    k_i = np.asarray(proc._k_i)  # (M, n)
    ref = (np.cos(s[:, None, :] * k_i + proc.phases_i_rad.T).sum(1)) / math.sqrt(8)
    np.testing.assert_allclose(proc.gain(s).real, ref, rtol=0, atol=2e-6)

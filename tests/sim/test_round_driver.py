"""The engine-owned round driver and the scheme hooks, with a toy scheme (no training), and
round control as a component (no simulation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from simtools import make_scenario

from fedsl_registry import Registry
from fedsl_sim.build import build_data, build_world, scheme_settings
from fedsl_sim.driver import RoundDriver
from fedsl_sim.schemes.base import Failure, RoundResult, Scheme, SchemeShape
from fedsl_sim.sim.recorder import CLIENT_FORWARD, MODEL_UPLOAD
from fedsl_sim.sim.rounds import RoundControl

THREE = dict(
    devices__count=3,
    devices__placement={"kind": "fixed", "positions_m": [[50.0, 0.0], [150.0, 0.0], [250.0, 0.0]]},
)


class ToyScheme(Scheme):
    """Device k computes (k + 1) GFLOPs, then uploads 1 kbit; the "model" is a counter."""

    shape = SchemeShape(split=False, averaging="interval")

    def __init__(self, settings, world, data) -> None:
        super().__init__(settings, world, data)
        self.counter = [0] * world.n_devices
        self.log: list[tuple[str, int, object]] = []

    def configure(self, r: int) -> None:
        self.log.append(("configure", r, None))

    def device_round(self, k, r, aggregate):
        yield from self.world.compute(k, CLIENT_FORWARD, r, (k + 1) * 1e9)
        self.counter[k] += 1
        if aggregate:
            sent = yield from self.world.transmit(k, MODEL_UPLOAD, r, 1000)
            if sent.delivered:
                return self.counter[k]
        return None

    def save_device(self, k):
        return self.counter[k]

    def restore_device(self, k, state) -> None:
        self.log.append(("restore", k, state))
        self.counter[k] = state

    def aggregate(self, r: int, result: RoundResult):
        self.log.append(("aggregate", r, dict(result.uploads)))
        yield self.world.env.timeout(0.5)

    def evaluate(self):
        return 0.0, 0.0


def _toy(scenario, **driver):
    world = build_world(scenario)
    data = build_data(scenario, world.streams)
    scheme = ToyScheme(scheme_settings(scenario), world, data)
    kw = dict(aggregation_interval=2, deadline_s=None, empty_round_s=1.0) | driver
    return scheme, RoundDriver(scheme, world, **kw)


def _run(driver: RoundDriver, r: int) -> RoundResult:
    env = driver.world.env
    return env.run(until=env.process(driver.round(r)))


def test_a_scheme_is_its_hooks_the_driver_owns_the_schedule():
    scheme, driver = _toy(make_scenario(**THREE))
    first, second = _run(driver, 0), _run(driver, 1)
    assert first.participants == [0, 1, 2] and not first.aggregate and first.uploads == {}
    assert second.aggregate and second.uploads == {0: 2, 1: 2, 2: 2} and not second.failures
    assert [e[0] for e in scheme.log] == ["configure", "configure", "aggregate"]
    assert scheme.log[-1] == ("aggregate", 1, {0: 2, 1: 2, 2: 2})


def test_the_deadline_cuts_off_slow_devices_as_data():
    sc = make_scenario(**THREE, devices__compute={"cpu_hz": 1e9, "flops_per_cycle": 1.0})
    scheme, driver = _toy(sc, aggregation_interval=1, deadline_s=2.5)
    result = _run(driver, 0)  # device 2 needs 3 s of compute: cut off at 2.5 s
    assert result.failures == {2: Failure(2, "deadline", pytest.approx(2.5))}
    assert set(result.uploads) == {0, 1} and result.dropped == 1
    assert scheme.counter == [1, 1, 0]  # the cut-off device never finished its step
    assert not any(e[0] == "restore" for e in scheme.log)


def test_a_device_that_goes_down_is_restored(tmp_path):
    (tmp_path / "down.csv").write_text("device,t_down_s,t_up_s\n1,1.5,100\n")
    sc = make_scenario(
        **THREE,
        devices__compute={"cpu_hz": 1e9, "flops_per_cycle": 1.0},
        rounds={"availability": {"kind": "trace", "path": str(tmp_path / "down.csv")}},
    )
    scheme, driver = _toy(sc, aggregation_interval=1)
    result = _run(driver, 0)
    assert result.failures == {1: Failure(1, "down", pytest.approx(1.5))}
    assert ("restore", 1, 0) in scheme.log and set(result.uploads) == {0, 2}
    assert _run(driver, 1).participants == [0, 2]  # still down at the next round's start


def test_a_sequential_scheme_runs_its_devices_in_turn():
    class Turns(ToyScheme):
        shape = SchemeShape(averaging="never", sequential=True)

    sc = make_scenario(**THREE, devices__compute={"cpu_hz": 1e9, "flops_per_cycle": 1.0})
    world = build_world(sc)
    scheme = Turns(scheme_settings(sc), world, build_data(sc, world.streams))
    driver = RoundDriver(scheme, world, aggregation_interval=1, deadline_s=None, empty_round_s=1)
    result = _run(driver, 0)
    assert not result.aggregate and world.env.now == pytest.approx(1 + 2 + 3)


def test_an_empty_round_waits_and_records_nobody():
    sc = make_scenario(
        **THREE, rounds={"availability": {"kind": "bernoulli", "p_unavailable": 0.9}}
    )
    _, driver = _toy(sc, empty_round_s=7.0)
    for r in range(50):
        t0 = driver.world.env.now
        result = _run(driver, r)
        if not result.participants:
            assert driver.world.env.now - t0 == pytest.approx(7.0)
            break
    else:
        pytest.fail("no empty round in 50 rounds with p_unavailable = 0.9")


def test_schemes_register_like_every_model():
    registry: Registry[Scheme] = Registry("scheme")
    registry.register("toy")(ToyScheme)
    assert "toy" in registry and registry.get("toy") is ToyScheme
    with pytest.raises(ValueError, match="already registered"):
        registry.register("toy")(ToyScheme)


def test_shape_validates_its_averaging():
    with pytest.raises(ValueError, match="averaging"):
        SchemeShape(averaging="sometimes")
    assert [SchemeShape(averaging="every_round").aggregates_after(r, 5) for r in range(2)] == [
        True,
        True,
    ]
    assert [SchemeShape().aggregates_after(r, 2) for r in range(4)] == [False, True, False, True]
    assert not SchemeShape(averaging="never").aggregates_after(0, 1)


# ----------------------------------------------------------------- round control, alone
class _NoChannel:
    n = 10


def _control(**kw) -> RoundControl:
    return RoundControl(
        10,
        _NoChannel(),  # type: ignore[arg-type]
        participation_rng=np.random.default_rng(1),
        availability_rng=np.random.default_rng(2),
        **kw,
    )


def test_bernoulli_availability_rate():
    p, rounds = 0.3, 2000
    rc = _control(p_unavailable=p)
    counts = [len(rc.available(0.0)) for _ in range(rounds)]
    n = 10 * rounds  # device-rounds, each available with probability 1 - p
    assert abs(sum(counts) / rounds - 10 * (1 - p)) < 4 * math.sqrt(n * p * (1 - p)) / rounds


def test_random_participation_takes_a_fraction_of_the_available():
    rc = _control(participation="random", fraction=0.35, p_unavailable=0.5)
    for _ in range(200):
        avail_before = rc._rng_avail.bit_generator.state  # the same draw as select's
        chosen = rc.select(0.0)
        rc._rng_avail.bit_generator.state = avail_before
        available = rc.available(0.0)
        assert set(chosen) <= set(available)
        if available:
            assert len(chosen) == max(1, math.ceil(0.35 * len(available)))
        else:
            assert chosen == []


def test_round_control_refuses_bad_arguments():
    with pytest.raises(ValueError, match="participation"):
        _control(participation="best")
    with pytest.raises(ValueError, match="fraction"):
        _control(fraction=0.0)
    with pytest.raises(ValueError, match="p_unavailable"):
        _control(p_unavailable=1.5)
    with pytest.raises(ValueError, match="down_intervals"):
        _control(down_intervals=[[]])


def test_a_registered_scheme_is_a_valid_scenario_scheme_and_runs(tmp_path):
    """One class plus its registration: the toy scheme is accepted by the schema, appears in
    the exported JSON schema and runs end to end through the engine; unregistered, gone."""
    import json

    from fedsl_sim.engine import run
    from fedsl_sim.scenario import Scenario, ScenarioError
    from fedsl_sim.schemes.registry import SCHEMES

    with SCHEMES.registered("toy", ToyScheme):
        assert '"toy"' in json.dumps(Scenario.model_json_schema())
        sc = make_scenario(**THREE, scheme="toy", stop__max_rounds=2)
        res = run(sc, out_dir=tmp_path / "toy", plots=False)
        assert res.summary["scheme"] == "toy" and res.summary["rounds_completed"] == 2
        assert [r.participants for r in res.rounds] == [3, 3]
    with pytest.raises(ScenarioError, match="toy"):
        make_scenario(**THREE, scheme="toy")

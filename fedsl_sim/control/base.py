"""Control policies: observation, decisions, and the controller that applies them.

At each round's start, after round control has drawn the round's candidates (available
devices, then the participation rule), the scenario's policy receives an :class:`Observation`
— what a base station knows: large-scale gains from the devices' reports (path loss and
shadowing, not the fading of the coming blocks), data sizes, the energy each device has used,
how long each spent on each kind of work last round — and returns :class:`Decisions`: which
candidates take part, and per device a CPU clock and a transmit power, each at most the
device's maximum (the scenario's value). What it does not decide keeps the scenario's value.
The :class:`Controller` validates the decisions (an impossible one is a :class:`DecisionError`
naming the policy, the round, the device and the field), applies them for the round and records
them (``decisions.csv``: one row per round and candidate).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from channels.link import downlink_sinr, uplink_sinr
from fedsl_sim.control.knobs import (
    FULL_BITS,
    KNOB_FIELDS,
    MAX_DROPOUT_RATE,
    MAX_PRUNING_RATE,
    Knobs,
    PredictionError,
    Tunable,
    Tuning,
)
from fedsl_sim.control.predict import Latency, Workload, predict_latency
from fedsl_sim.errors import ScenarioError
from fedsl_sim.sim.topology import backhaul_delay_s

if TYPE_CHECKING:
    from fedsl_sim.sim.world import World

#: the range of a policy's share weights, its lowest clock (Hz) and transmit power (dBm):
#: the scenario's own bounds
MIN_SHARE_WEIGHT, MAX_SHARE_WEIGHT = 1.0e-6, 1.0e6
MIN_CPU_HZ = 1.0e6
MIN_TX_POWER_DBM = -50.0


def _integer(x: float) -> int | str:
    """An integer column's cell ("" where the run has no scheme to say)."""
    return int(x) if math.isfinite(x) else ""


def _is_index(k: object) -> bool:
    return isinstance(k, int | np.integer) and not isinstance(k, bool)


#: decisions.csv's columns
DECISION_COLUMNS = (
    "round",
    "device",
    "take_part",
    "cpu_hz",
    "tx_power_dbm",
    "bandwidth_weight",
    *KNOB_FIELDS,
)


class DecisionError(ScenarioError):
    """A policy decided something impossible (a device that is not a candidate, a clock above
    the device's maximum, ...): names the policy, the round, the device and the field."""


@dataclass(frozen=True)
class Decisions:
    """One round's decisions; None (or a device left out of a mapping): the scenario's value.

    take_part : a list of the candidates that take part (the others sit the round out; each
        at most once).
    cpu_hz : per candidate, its CPU clock for the round, Hz (1e6 <= f <= its maximum).
    tx_power_dbm : per candidate, its transmit power for the round, dBm (-50 <= p <= its
        maximum).
    bandwidth_weight : per candidate, the weight of its transmissions when the band is
        divided among concurrent ones (1e-6 <= w <= 1e6; default 1: the scenario's share rule
        alone, equal or proportional to the bits, is multiplied by it).
    split_layer : per candidate, its split layer, one of the scheme's
        :attr:`~fedsl_sim.control.knobs.Tuning.split_layers` (``control.split_layers``); a
        device whose split is locked (:attr:`Observation.split_locked`) keeps its own.
    pruning_rate : per candidate, the pruning rate of its client-side weights, in [0, 0.99]
        (its mask is recomputed at this rate when it next trains).
    quant_bits : per candidate, the quantization bits of its split-layer activations and
        gradient, an integer in [min_bits, 32] (32: dense float32).
    dropout_rate : per candidate, its activation dropout rate, in [0, 0.95].
    Values are real numbers (not strings or bools); mappings are keyed by device index. The
    last four need a scheme that has them (:class:`~fedsl_sim.control.knobs.Tuning`).
    """

    take_part: Collection[int] | None = None
    cpu_hz: Mapping[int, float] | None = None
    tx_power_dbm: Mapping[int, float] | None = None
    bandwidth_weight: Mapping[int, float] | None = None
    split_layer: Mapping[int, int] | None = None
    pruning_rate: Mapping[int, float] | None = None
    quant_bits: Mapping[int, int] | None = None
    dropout_rate: Mapping[int, float] | None = None


class Observation:
    """What a policy sees at round ``round``'s start (arrays are per device, copies; the
    channel-derived ones are computed when first read)."""

    def __init__(
        self,
        round: int,
        candidates: tuple[int, ...],
        world: World,
        data_size: np.ndarray,
        max_cpu_hz: np.ndarray,
        max_tx_power_w: np.ndarray,
        last_round_s: Mapping[str, np.ndarray],
        aggregate: bool = False,
        scheme: Tunable | None = None,
        deadline_s: float | None = None,
        rounds_to_average: int = 1,
        sharing: int | None = None,
        local_rounds: int = 1,
    ) -> None:
        self.round = round
        #: local rounds the decisions cover, the last one uploading (asynchronous dispatch:
        #: the device's rounds up to its next upload; 1: a synchronous round)
        self.local_rounds = local_rounds
        #: rounds until the next average, this one included (1: this round averages; a split
        #: layer chosen now holds that long at least: it is locked until then)
        self.rounds_to_average = rounds_to_average
        #: how many devices are expected to share the band and the server this round: the
        #: candidates (asynchronous training: the devices that can send an update — up and
        #: not sitting out — when one is dispatched)
        self.sharing = len(candidates) if sharing is None else sharing
        #: the round's deadline (rounds.deadline_s), s, or None
        self.deadline_s = deadline_s
        #: whether the round ends with an average (the devices upload their models)
        self.aggregate = aggregate
        self._scheme = scheme
        #: which knobs the scheme lets a policy set (nothing: a scheme without knobs)
        self.tuning = scheme.tuning() if scheme is not None else Tuning()
        #: each device's split layer now (layers on the device; FL: all of them; -1: a
        #: scheme without knobs) and whether it is locked this round (it holds layers it
        #: trained since the last average it received: it keeps its split layer)
        self.split_layer, self.split_locked = (
            scheme.split_state()
            if scheme is not None
            else (np.full(world.n_devices, -1), np.zeros(world.n_devices, dtype=bool))
        )
        #: the devices round control offers this round (available, chosen by the
        #: participation rule), sorted
        self.candidates = candidates
        self._world = world
        #: simulated time at the round's start, s
        self.time_s = float(world.env.now)
        self.n_devices = world.n_devices
        #: local training samples per device
        self.data_size = data_size.copy()
        #: each device's maximum CPU clock, Hz, and FLOPs per cycle
        self.max_cpu_hz = max_cpu_hz.copy()
        self.flops_per_cycle = np.array(world.flops_per_cycle, dtype=float)
        #: each device's effective switched capacitance (compute energy kappa cycles f^2)
        self.kappa = np.array(world.kappa, dtype=float)
        #: each device's maximum transmit power, dBm (to 1e-9 dB)
        self.max_tx_power_dbm = np.round(10.0 * np.log10(max_tx_power_w * 1e3), 9)
        self._max_tx_power_w = max_tx_power_w
        #: one server worker's speed, FLOP/s
        self.server_flops_per_s = float(world.server_flops_per_s)
        #: the server's parallel workers
        self.server_workers = int(world.server_workers.capacity)
        rec = world.recorder
        #: energy each device has used so far (compute + transmit), J
        self.energy_used_j = rec.compute_energy_j + rec.transmit_energy_j
        #: per event kind, the time each device spent on it in the previous round, s
        self.last_round_s = dict(last_round_s)

    @cached_property
    def _state(self) -> dict[str, np.ndarray]:
        ch = self._world.channel
        return ch.components(ch.block_at(self.time_s))

    @cached_property
    def large_scale_gain_db(self) -> np.ndarray:
        """Path gain with shadowing to the serving base station, dB (no fast fading)."""
        state = self._state
        return np.asarray(state["shadowing_db"] - state["pathloss_db"], dtype=float)

    @cached_property
    def bandwidth_hz(self) -> np.ndarray:
        """The serving cell's bandwidth, Hz."""
        medium = self._world.medium
        band: np.ndarray = np.asarray(medium.bandwidth_hz, dtype=float)
        return np.asarray(band[self._state["serving"]], dtype=float)

    @cached_property
    def noise_psd_w_per_hz(self) -> float:
        """Receiver noise power spectral density (noise figure included), W/Hz."""
        return float(self._world.medium.noise_psd)

    @cached_property
    def snr_db(self) -> np.ndarray:
        """Uplink SNR on the serving cell's whole band at the maximum transmit power from the
        large-scale gain, dB (a share b of the band: + 10 log10(1 / b))."""
        power_dbm = self.max_tx_power_dbm
        noise_dbm = 10.0 * np.log10(self.noise_psd_w_per_hz * self.bandwidth_hz * 1e3)
        return np.asarray(power_dbm + self.large_scale_gain_db - noise_dbm, dtype=float)

    @cached_property
    def _gain(self) -> np.ndarray:
        return np.asarray(10.0 ** (self.large_scale_gain_db / 10.0), dtype=float)

    def uplink_rate_bps(
        self,
        share: float | np.ndarray = 1.0,
        tx_power_dbm: float | np.ndarray | None = None,
        devices: Collection[int] | None = None,
    ) -> np.ndarray:
        """Each device's (or each of ``devices``') uplink rate alone on a ``share`` of its
        cell's band at ``tx_power_dbm`` (default its maximum), from the large-scale gain,
        bit/s — the medium's own SINR, access and rate rules."""
        medium = self._world.medium
        idx = np.arange(self.n_devices) if devices is None else np.asarray(list(devices))
        power_w = (
            self._max_tx_power_w[idx]
            if tx_power_dbm is None
            else 10.0 ** (np.asarray(tx_power_dbm, dtype=float) / 10.0) / 1e3
        )
        band = self.bandwidth_hz[idx]
        fraction = np.broadcast_to(np.asarray(share, dtype=float), band.shape)
        part = medium.access_rule.part_hz(band, fraction)
        ch = self._world.channel
        itf = ch.ul_interference_w if getattr(ch, "has_interference", False) else 0.0
        with np.errstate(divide="ignore"):
            sinr = uplink_sinr(power_w * self._gain[idx], medium.noise_psd, part, itf)
        return self._decodable(
            sinr, medium.access_rule.rate_bps(medium.rate_bps, band, fraction, sinr)
        )

    def _decodable(self, sinr: np.ndarray, rate: np.ndarray) -> np.ndarray:
        """``rate`` where ``sinr`` reaches the outage threshold, 0 below it (nothing
        decodes there: the medium waits, retransmits or drops)."""
        threshold = self._world.medium.snr_threshold
        if not threshold:
            return np.asarray(rate, dtype=float)
        return np.where(np.asarray(sinr) >= threshold, rate, 0.0)

    def on_air_fraction(self, share: float) -> float:
        """The fraction of a transmission's time it radiates on a ``share`` of the band (1
        with OFDMA, the share with TDMA): transmit energy is power x time on air."""
        access = self._world.medium.access_rule
        return float(access.on_air(np.asarray([share], dtype=float), (1,))[0])

    def downlink_rate_bps(self, share: float | np.ndarray = 1.0) -> np.ndarray:
        """Each device's downlink rate alone on a ``share`` of its cell's band, from the
        large-scale gain, bit/s."""
        medium, ch = self._world.medium, self._world.channel
        band = self.bandwidth_hz
        fraction = np.broadcast_to(np.asarray(share, dtype=float), band.shape)
        bs_w = np.asarray(medium.bs_tx_power_w, dtype=float)[self._state["serving"]]
        itf = 0.0
        if getattr(ch, "has_interference", False):
            itf = ch.dl_interference_gain(ch.block_at(self.time_s), 1)[0]
        sinr = downlink_sinr(bs_w, self._gain, medium.noise_psd, band, itf)
        return self._decodable(
            sinr, medium.access_rule.rate_bps(medium.rate_bps, band, fraction, sinr)
        )

    def default_knobs(self, k: int) -> Knobs:
        """Device k's knobs this round when the policy decides none: the scenario's."""
        if self._scheme is None:
            raise ValueError("this observation carries no scheme")
        return self._scheme.default_knobs(k, self.round)

    def workload(
        self,
        k: int,
        split_layer: int | None = None,
        pruning_rate: float | None = None,
        quant_bits: int | None = None,
        dropout_rate: float | None = None,
        aggregate: bool | None = None,
        catch_up: bool | None = None,
    ) -> Workload:
        """What device k would do this round (FLOPs, bits; see
        :class:`~fedsl_sim.control.predict.Workload`) with these knobs (None: the
        scenario's); ``aggregate`` and ``catch_up`` ask for a round that does (not) average
        and in which the device does (not) first fetch a missed average (None: this round's,
        this device's)."""
        if self._scheme is None:
            raise ValueError("this observation carries no workloads")
        return self._scheme.workload(
            k,
            self.aggregate if aggregate is None else aggregate,
            split_layer=split_layer,
            pruning_rate=pruning_rate,
            quant_bits=quant_bits,
            dropout_rate=dropout_rate,
            r=self.round,
            catch_up=catch_up,
            rounds=self.local_rounds,
        )

    def predict(
        self,
        k: int,
        cpu_hz: float | None = None,
        tx_power_dbm: float | None = None,
        share: float = 1.0,
        **knobs: float | None,
    ) -> Latency:
        """Device k's round alone at ``cpu_hz`` (default its maximum) and ``tx_power_dbm``
        on a ``share`` of the band, from the large-scale gain, with ``knobs`` (split_layer,
        pruning_rate, quant_bits, dropout_rate; default the scenario's; and ``aggregate``,
        ``catch_up`` as for :meth:`workload`; see :mod:`fedsl_sim.control.predict`)."""
        up = self.uplink_rate_bps(share, tx_power_dbm, devices=[k])[0]
        down = self.downlink_rate_bps(share)[k]
        world = self._world
        path = world.backhaul_paths[int(self._state["serving"][k])]
        return predict_latency(
            self.workload(k, **knobs),  # type: ignore[arg-type]
            float(self.max_cpu_hz[k] if cpu_hz is None else cpu_hz),
            float(self.flops_per_cycle[k]),
            float(up),
            float(down),
            self.server_flops_per_s,
            lambda bits: backhaul_delay_s(path, int(bits)),
        )


class Policy:
    """A control policy: :meth:`decide` is called at every round's start."""

    #: the name it is registered under (error messages)
    name = "policy"

    def decide(self, obs: Observation) -> Decisions:
        raise NotImplementedError


class Controller:
    """Asks the policy at every round's start, validates and applies its decisions for the
    round (clocks and powers back to the maximum first) and records them."""

    def __init__(
        self,
        policy: Policy,
        world: World,
        data_size: np.ndarray,
        scheme: Tunable | None = None,
        deadline_s: float | None = None,
    ) -> None:
        self.policy = policy
        self.scheme = scheme
        self.deadline_s = deadline_s
        self.world = world
        self.data_size = np.asarray(data_size)
        self.max_cpu_hz = np.array(world.cpu_hz, dtype=float)
        self.max_tx_power_w = np.array(world.medium.device_tx_power_w, dtype=float)
        #: the maximum in dBm, to 1e-9 dB (the scenario's value through watts and back)
        self.max_tx_power_dbm = np.round(10.0 * np.log10(self.max_tx_power_w * 1e3), 9)
        self._power_dbm = self.max_tx_power_dbm.copy()  # each device's, this round
        self._max_weight = np.full(world.n_devices, MAX_SHARE_WEIGHT)
        self._changed = False
        self._busy_at_start: dict[str, np.ndarray] | None = None
        self._busy_at_dispatch: dict[int, dict[str, float]] = {}
        #: per round: (round, candidates, take_part, cpu_hz, tx_power_dbm,
        #: bandwidth_weight, split_layer, pruning_rate, quant_bits, dropout_rate), arrays over
        #: the candidates (decisions.csv, one row each)
        self.decided: list[tuple[Any, ...]] = []

    def _last_round(self) -> dict[str, np.ndarray]:
        rec = self.world.recorder
        now = {kind: busy.copy() for kind, busy in rec.busy_s.items()}
        before = self._busy_at_start
        self._busy_at_start = now
        if before is None:
            return {kind: np.zeros_like(busy) for kind, busy in now.items()}
        return {kind: now[kind] - before[kind] for kind in now}

    def start_round(
        self,
        r: int,
        candidates: list[int],
        aggregate: bool = False,
        rounds_to_average: int = 1,
    ) -> list[int]:
        """The devices that take part in round ``r`` (``aggregate``: an averaging round;
        ``rounds_to_average``: rounds until the next average, this one included) among
        ``candidates``; the clocks and powers of the round set."""
        obs = self._observe(r, candidates, self._last_round(), aggregate, rounds_to_average)
        return self._apply(r, candidates, obs, self.decide(obs), every_device=True)

    def dispatch(self, r: int, k: int, sharing: int, local_rounds: int = 1) -> bool:
        """Asynchronous training: device k starts its ``local_rounds`` local rounds up to its
        next upload (in round ``r``, with ``sharing`` devices that can send): whether it
        takes part; its clock, power, weight and knobs set until its next dispatch."""
        last = self._last_dispatch(k)
        obs = self._observe(r, [k], last, True, 1, sharing, local_rounds)
        return bool(self._apply(r, [k], obs, self.decide(obs), every_device=False))

    def decide(self, obs: Observation) -> Decisions:
        """The policy's decisions for ``obs`` (its prediction errors are decision errors)."""
        try:
            decided = self.policy.decide(obs)
        except PredictionError as exc:
            raise self._error(obs.round, None, "predict", str(exc)) from None
        if not isinstance(decided, Decisions):
            raise self._error(obs.round, None, "decisions", f"expected Decisions, got {decided!r}")
        return decided

    def _observe(
        self,
        r: int,
        candidates: list[int],
        last: Mapping[str, np.ndarray],
        aggregate: bool,
        rounds_to_average: int,
        sharing: int | None = None,
        local_rounds: int = 1,
    ) -> Observation:
        return Observation(
            r,
            tuple(candidates),
            self.world,
            self.data_size,
            self.max_cpu_hz,
            self.max_tx_power_w,
            last,
            aggregate,
            self.scheme,
            self.deadline_s,
            rounds_to_average,
            sharing,
            local_rounds,
        )

    def _last_dispatch(self, k: int) -> dict[str, np.ndarray]:
        """What device k spent on each kind of work since its previous dispatch (zeros for
        the other devices)."""
        rec = self.world.recorder
        now = {kind: float(busy[k]) for kind, busy in rec.busy_s.items()}
        before = self._busy_at_dispatch.get(k)
        self._busy_at_dispatch[k] = now
        out = {kind: np.zeros(self.world.n_devices) for kind in now}
        if before is not None:
            for kind in now:
                out[kind][k] = now[kind] - before[kind]
        return out

    def _apply(
        self,
        r: int,
        candidates: list[int],
        obs: Observation,
        decided: Decisions,
        every_device: bool,
    ) -> list[int]:
        """Validate ``decided`` for ``candidates``, set it (``every_device``: every other
        device back to the scenario's values; else only the candidates'), record it; returns
        the candidates taking part."""
        take = self._take_part(r, candidates, decided.take_part)
        offered = set(candidates)
        cpu = self._values(r, decided.cpu_hz, "cpu_hz", MIN_CPU_HZ, self.max_cpu_hz, offered)
        power = self._values(
            r,
            decided.tx_power_dbm,
            "tx_power_dbm",
            np.minimum(MIN_TX_POWER_DBM, self.max_tx_power_dbm),
            self.max_tx_power_dbm,
            offered,
        )
        weight = self._values(
            r,
            decided.bandwidth_weight,
            "bandwidth_weight",
            MIN_SHARE_WEIGHT,
            self._max_weight,
            offered,
        )
        knobs = self._knobs(r, decided, offered, obs)
        world = self.world
        if every_device and self._changed:
            world.cpu_hz[:] = self.max_cpu_hz
            world.medium.device_tx_power_w[:] = self.max_tx_power_w
            world.medium.share_weight[:] = 1.0
            self._power_dbm[:] = self.max_tx_power_dbm
            self._changed = False
        elif not every_device:
            for k in candidates:
                world.cpu_hz[k] = self.max_cpu_hz[k]
                world.medium.device_tx_power_w[k] = self.max_tx_power_w[k]
                world.medium.share_weight[k] = 1.0
                self._power_dbm[k] = self.max_tx_power_dbm[k]
        for k, w in weight.items():
            world.medium.share_weight[k] = w
            self._changed = True
        for k, f in cpu.items():
            world.cpu_hz[k] = f
            self._changed = True
        for k, dbm in power.items():
            if dbm < self.max_tx_power_dbm[k]:  # the maximum stays the scenario's watts
                world.medium.device_tx_power_w[k] = 10.0 ** (dbm / 10.0) / 1e3
                self._power_dbm[k] = dbm
                self._changed = True
        if self.scheme is not None:
            if every_device:
                self.scheme.tune(r, knobs)
            else:
                self.scheme.tune_devices(r, candidates, knobs)
        chosen = set(take)
        idx = np.asarray(candidates, dtype=np.int64)
        now = [self.scheme.knobs(int(k)) for k in idx] if self.scheme is not None else []
        self.decided.append(
            (
                r,
                idx,
                np.asarray([k in chosen for k in candidates], dtype=bool),
                np.array(world.cpu_hz[idx], dtype=float),
                self._power_dbm[idx],
                np.array(world.medium.share_weight[idx], dtype=float),
                *(
                    np.array([getattr(kn, name) for kn in now] or [math.nan] * len(idx))
                    for name in KNOB_FIELDS
                ),
            )
        )
        return [k for k in candidates if k in chosen]

    def rows(self) -> list[tuple[object, ...]]:
        """decisions.csv's rows: round, device, take_part (0/1), cpu_hz, tx_power_dbm,
        bandwidth_weight, split_layer, pruning_rate, quant_bits, dropout_rate."""
        out: list[tuple[object, ...]] = []
        for r, idx, take, cpu, power, weight, split, prune, bits, drop in self.decided:
            for i, k in enumerate(idx):
                out.append(
                    (
                        r,
                        int(k),
                        int(take[i]),
                        float(cpu[i]),
                        float(power[i]),
                        float(weight[i]),
                        _integer(split[i]),
                        float(prune[i]),
                        _integer(bits[i]),
                        float(drop[i]),
                    )
                )
        return out

    def _knobs(
        self, r: int, decided: Decisions, offered: set[int], obs: Observation
    ) -> dict[str, dict[int, float]]:
        """The knob decisions, checked against what the scheme lets a policy set."""
        tuning = obs.tuning
        lows = {
            "split_layer": 1.0,
            "pruning_rate": 0.0,
            "quant_bits": float(tuning.min_bits),
            "dropout_rate": 0.0,
        }
        highs = {
            "split_layer": float(max(tuning.split_layers, default=1)),
            "pruning_rate": MAX_PRUNING_RATE,
            "quant_bits": float(FULL_BITS),
            "dropout_rate": MAX_DROPOUT_RATE,
        }
        allowed = {
            "split_layer": bool(tuning.split_layers),
            "pruning_rate": tuning.pruning,
            "quant_bits": tuning.split_compression,
            "dropout_rate": tuning.split_compression,
        }
        why = {
            "split_layer": "the split layer is fixed (a split scheme with parallel devices and "
            "control.split_layers let a policy choose it)",
            "pruning_rate": "the scheme does not prune per device (fedsl is uncompressed by "
            "definition; sl trains one client-side model)",
            "quant_bits": "the scheme does not compress split-layer messages",
            "dropout_rate": "the scheme does not compress split-layer messages",
        }
        out: dict[str, dict[int, float]] = {}
        n = self.world.n_devices
        for name in KNOB_FIELDS:
            values = getattr(decided, name)
            if values is None:
                continue
            if not allowed[name] and isinstance(values, Mapping):
                if not values:
                    continue
                raise self._error(r, None, name, f"cannot be decided: {why[name]}")
            checked = self._values(r, values, name, lows[name], np.full(n, highs[name]), offered)
            if name in ("split_layer", "quant_bits"):
                for k, v in checked.items():
                    if v != int(v):
                        raise self._error(r, k, name, f"expected an integer, got {values[k]!r}")
                    checked[k] = int(v)
            if name == "split_layer":
                for k, s in checked.items():
                    if s not in tuning.split_layers:
                        raise self._error(
                            r, k, name, f"expected one of {list(tuning.split_layers)}, got {s}"
                        )
                    if s != obs.split_layer[k] and obs.split_locked[k]:
                        raise self._error(
                            r,
                            k,
                            name,
                            f"its split layer {obs.split_layer[k]} is locked (it holds layers "
                            "trained since the last average it received; see split_locked)",
                        )
            out[name] = checked
        return out

    def _error(self, r: int, k: int | None, field: str, message: str) -> DecisionError:
        where = f"round {r}" + ("" if k is None else f", device {k}")
        return DecisionError(f"control policy {self.policy.name!r}", f"{where}: {message}", field)

    def _take_part(self, r: int, candidates: list[int], take: object) -> list[int]:
        if take is None:
            return list(candidates)
        if not isinstance(take, list | tuple | set | frozenset | np.ndarray):
            raise self._error(
                r, None, "take_part", f"expected a list of candidates, got {type(take).__name__}"
            )
        allowed = set(candidates)
        out: list[int] = []
        for k in list(take):
            if not _is_index(k) or int(k) not in allowed:
                raise self._error(
                    r, None, "take_part", f"{k!r} is not a candidate of this round {candidates}"
                )
            if int(k) in out:
                raise self._error(r, None, "take_part", f"device {k} is listed twice")
            out.append(int(k))
        return out

    def _values(
        self,
        r: int,
        values: object,
        field: str,
        low: float | np.ndarray,
        maximum: np.ndarray,
        candidates: set[int],
    ) -> dict[int, float]:
        """``values`` checked: a mapping from candidates to finite real numbers in
        [low, maximum] (per device)."""
        if values is None:
            return {}
        if not isinstance(values, Mapping):
            raise self._error(
                r, None, field, f"expected a mapping device -> value, got {type(values).__name__}"
            )
        out = {}
        for k, v in values.items():
            if not _is_index(k):
                raise self._error(r, None, field, f"device {k!r} is not a device index")
            if int(k) not in candidates:
                raise self._error(r, int(k), field, "not a candidate of this round")
            lo = float(np.broadcast_to(low, maximum.shape)[k])
            top = float(maximum[k])
            real = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            try:
                x = float(v) if real else math.nan
            except OverflowError:  # an integer beyond any float
                x = math.nan
            if not (math.isfinite(x) and lo <= x <= top * (1 + 1e-12) + 1e-12):
                raise self._error(
                    r, int(k), field, f"expected a number in [{lo:g}, {top:g}], got {v!r}"
                )
            out[int(k)] = min(x, top)
        return out

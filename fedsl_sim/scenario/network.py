"""Scenario section: network (path loss, shadowing, fading, access, rates, outage, cells)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    model_validator,
)

import channels.fading
import channels.pathloss
from channels.pathloss import PathLossModel
from fedsl_sim.scenario.base import (
    BandwidthHz,
    BlockS,
    CarrierHz,
    CoordinateM,
    DistanceM,
    _FieldError,
    _Model,
)


# --------------------------------------------------------------------------- network
class PathLossParams(_Model):
    """Base of a ``network.pathloss`` block: the parameter model of a path-loss model of
    ``channels.pathloss.MODELS`` (discriminator ``kind``)."""

    def channel_params(self, carrier_hz: float) -> dict[str, Any]:
        """The keyword arguments of the registered model at ``carrier_hz``: by default the
        block's fields under their own names."""
        return {"fc_hz": carrier_hz, **self.model_dump(exclude={"kind"})}


class LogDistancePathLoss(PathLossParams):
    """PL(d) = PL_fs(d0) + 10 * exponent * log10(d / d0) dB."""

    kind: Literal["log_distance"]
    exponent: Annotated[float, Field(gt=0, le=10)] = 3.5
    d0_m: DistanceM = 1.0


class FreeSpacePathLoss(PathLossParams):
    """Free space (Friis): 20 log10(4 pi d fc / c) dB."""

    kind: Literal["free_space"]


class Macro36814PathLoss(PathLossParams):
    """3GPP TR 36.814 macro cell: 128.1 + 37.6 log10(d / km) dB (d >= 35 m), plus
    21 log10(fc / 2 GHz) away from 2 GHz."""

    kind: Literal["macro_36814"]


class _ThreeGppPathLoss(PathLossParams):
    """3GPP TR 38.901 (Table 7.4.1-1). Heights default to the standard's (UMa 25 m, UMi
    10 m, RMa 35 m, InH 3 m; devices 1.5 m, InH 1 m). ``los``: ``stochastic`` draws each
    link's LOS state from Table 7.4.2-1 and keeps it while the device moves less than the
    LOS correlation distance. Outside a formula's distance range: an error, or with
    ``clamp`` the distance is clamped into it."""

    h_bs_m: Annotated[float, Field(gt=0, le=1.0e4)] | None = None
    h_ut_m: Annotated[float, Field(gt=0, le=1.0e4)] | None = None
    los: Literal["stochastic", "los", "nlos"] = "stochastic"
    clamp: bool = False

    def channel_params(self, carrier_hz: float) -> dict[str, Any]:
        # the LOS rule is the channel's, not the model's; unset heights take the standard's
        params = self.model_dump(exclude={"kind", "los", "h_bs_m", "h_ut_m"})
        params["fc_hz"] = carrier_hz
        if self.h_bs_m is not None:
            params["h_bs_m"] = self.h_bs_m
        if self.h_ut_m is not None:
            params["h_ut_m"] = self.h_ut_m
        return params


class UmaPathLoss(_ThreeGppPathLoss):
    """3GPP TR 38.901 urban macro."""

    kind: Literal["uma"]
    simplified_nlos: bool = False


class UmiPathLoss(_ThreeGppPathLoss):
    """3GPP TR 38.901 urban micro street canyon."""

    kind: Literal["umi"]
    simplified_nlos: bool = False


class RmaPathLoss(_ThreeGppPathLoss):
    """3GPP TR 38.901 rural macro."""

    kind: Literal["rma"]
    building_height_m: Annotated[float, Field(ge=5, le=50)] = 5.0
    street_width_m: Annotated[float, Field(ge=5, le=50)] = 20.0

    def channel_params(self, carrier_hz: float) -> dict[str, Any]:
        params = super().channel_params(carrier_hz)
        params["h_m"] = params.pop("building_height_m")
        params["w_m"] = params.pop("street_width_m")
        return params


class InhPathLoss(_ThreeGppPathLoss):
    """3GPP TR 38.901 indoor hotspot (office)."""

    kind: Literal["inh"]
    office: Literal["mixed", "open"] = "mixed"
    simplified_nlos: bool = False


THREE_GPP_PATHLOSS = (UmaPathLoss, UmiPathLoss, RmaPathLoss, InhPathLoss)


def pathloss_model(cfg: PathLossParams, carrier_hz: float) -> PathLossModel:
    """The :mod:`channels.pathloss` model of a ``network.pathloss`` block at ``carrier_hz``
    (the registered model named by the block, with :meth:`PathLossParams.channel_params`).
    Raises ValueError for parameters the model refuses (e.g. a carrier outside its frequency
    range)."""
    return channels.pathloss.make(cfg.kind, **cfg.channel_params(carrier_hz))


PathLossConfig = Annotated[
    LogDistancePathLoss
    | FreeSpacePathLoss
    | Macro36814PathLoss
    | UmaPathLoss
    | UmiPathLoss
    | RmaPathLoss
    | InhPathLoss,
    Field(discriminator="kind"),
]


class ShadowingConfig(_Model):
    """Log-normal shadowing. ``std_db``: None takes the path-loss model's (TR 38.901 values by
    LOS state for the 3GPP models, 8 dB otherwise). With ``correlated`` the shadowing follows
    each device along its trajectory (Gudmundson: correlation exp(-Δd / corr_distance_m),
    default the 3GPP decorrelation distance of the link's initial LOS state, 50 m for the other
    models); without, it is one draw per device held for the run."""

    std_db: Annotated[float, Field(ge=0, le=30)] | None = None
    correlated: bool = True
    corr_distance_m: DistanceM | None = None


class FadingParams(_Model):
    """Small-scale fading, unit mean power. ``time: block``: i.i.d. per block of
    ``coherence_s`` (the channel, distance included, is held for a block). ``time:
    continuous``: a Jakes (Clarke) process that evolves with the distance each device travels
    (Doppler from its speed; a device at rest keeps its channel), sampled every ``sample_s``
    (default a tenth of the coherence time at the fastest speed, at most 10 ms)."""

    time: Literal["block", "continuous"] = "block"
    coherence_s: BlockS = 0.01
    sample_s: BlockS | None = None

    @property
    def distribution_params(self) -> dict[str, Any]:
        """The parameters of the fading distribution itself (``k_db``, ``m``)."""
        return self.model_dump(exclude={"kind", "time", "coherence_s", "sample_s"})


class NoFading(FadingParams):
    """No small-scale fading: |h|^2 = 1."""

    kind: Literal["none"]


class RayleighFading(FadingParams):
    """Rayleigh fading: |h|^2 exponential with unit mean."""

    kind: Literal["rayleigh"]


class RicianFading(FadingParams):
    """Rician fading with K-factor ``k_db`` (LOS over scattered power)."""

    kind: Literal["rician"]
    k_db: Annotated[float, Field(ge=-50, le=50)] = 9.0


class NakagamiFading(FadingParams):
    """Nakagami-m fading: |h|^2 Gamma(m, 1/m)."""

    kind: Literal["nakagami"]
    m: Annotated[float, Field(ge=0.5, le=1000)] = 1.0


FadingConfig = Annotated[
    NoFading | RayleighFading | RicianFading | NakagamiFading, Field(discriminator="kind")
]


class AccessConfig(_Model):
    """How concurrent transmissions of one direction share its band. ``ofdma``: each gets a
    part of the band at the same time — ``equal`` parts, or parts ``proportional`` to the
    bits of each message (so that concurrent messages tend to end together); noise scales
    with the part. ``tdma``: each gets the whole band for an equal part of the time."""

    kind: Literal["ofdma", "tdma"] = "ofdma"
    share: Literal["equal", "proportional"] = "equal"
    #: ``power_aware``: a transmission below the outage threshold on its nominal share gets
    #: the narrower part on which it reaches it (OFDMA uplink, no narrower than
    #: ``min_share_hz``) or waits, and leaves the rest of the band to the others;
    #: ``fixed_share``: every transmission holds its nominal share, waiting or not
    scheduler: Literal["power_aware", "fixed_share"] = "power_aware"
    min_share_hz: Annotated[float, Field(ge=1.0e3, le=1.0e11)] = 180.0e3


class ShannonRate(_Model):
    """r = B log2(1 + SNR / Γ), Γ = ``gap_db`` (0 dB: capacity)."""

    kind: Literal["shannon"]
    gap_db: Annotated[float, Field(ge=0, le=20)] = 0.0


class CqiRate(_Model):
    """r = B · efficiency(CQI) with the 3GPP TS 38.214 CQI tables; the CQI is the highest one
    whose SNR threshold is reached (default thresholds: 10 log10(2^eff - 1) dB; or give the 15
    thresholds of CQI 1..15). Below CQI 1 the link is in outage."""

    kind: Literal["cqi"]
    table: Literal["64qam", "256qam"] = "64qam"
    snr_thresholds_db: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _fifteen(self) -> CqiRate:
        t = self.snr_thresholds_db
        increasing = t is None or all(b > a for a, b in zip(t, t[1:], strict=False))
        if t is not None and (len(t) != 15 or not increasing):
            raise _FieldError(
                ("snr_thresholds_db",), f"expected 15 increasing values (CQI 1..15), got {list(t)}"
            )
        return self


RateConfig = Annotated[ShannonRate | CqiRate, Field(discriminator="kind")]


class OutageConfig(_Model):
    """Below ``snr_threshold_db`` a link carries nothing. ``wait``: the transmission pauses;
    ``harq``: each block in outage is a failed attempt (time and energy spent), the message is
    lost after more than ``max_retransmissions`` of them (optionally Chase-combining the failed
    blocks' SNR); ``drop``: the first block in outage loses the message."""

    snr_threshold_db: Annotated[float, Field(ge=-50, le=100)] | None = -5.0
    policy: Literal["wait", "harq", "drop"] = "wait"
    #: ``wait``: a transmission that has not moved for this long (simulated seconds) stops the
    #: run with an error naming the device (a link that can never deliver); null: wait for ever
    max_wait_s: Annotated[float, Field(gt=0, le=1.0e9)] | None = 3600.0
    max_retransmissions: Annotated[int, Field(ge=0, le=1000)] = 3
    chase_combining: bool = False


class InterferenceConfig(_Model):
    """Co-channel interference from ``rings`` hexagonal rings of neighbouring base stations at
    ``inter_site_distance_m`` (6 sites in ring 1, 12 in ring 2, ...), each busy a fraction
    ``load`` of the time (interference scaled by ``load``: its mean). Downlink: every
    neighbour's transmit power (the serving BS's) through the path loss to the device's current
    position (NLOS for the 3GPP models; no shadowing or fading; at least 10 m). Uplink: one
    device per neighbouring cell (the devices' transmit power), its received power at the
    serving BS averaged over positions uniform in a disc of half the inter-site distance around
    its site. Interference adds to the noise in the SINR."""

    inter_site_distance_m: DistanceM = 500.0
    rings: Annotated[int, Field(ge=1, le=3)] = 1
    load: Annotated[float, Field(ge=0, le=1)] = 0.5


class CellConfig(_Model):
    """One base station (cell). ``carrier_hz`` (for its path loss), ``bandwidth_hz`` (each
    direction) and ``tx_power_dbm`` default to ``network.carrier_hz``,
    ``network.bandwidth_hz`` and ``server.tx_power_dbm``. Cells use separate bands."""

    position_m: tuple[CoordinateM, CoordinateM]
    carrier_hz: CarrierHz | None = None
    bandwidth_hz: BandwidthHz | None = None
    tx_power_dbm: Annotated[float, Field(ge=-50, le=80)] | None = None


class BackhaulLink(_Model):
    """A backhaul link between two nodes (``server`` or ``cell<i>``): a message crosses it in
    ``latency_s`` + bits / ``capacity_bps`` (store and forward, no contention)."""

    a: str
    b: str
    latency_s: Annotated[float, Field(ge=0, le=1.0e3)] = 0.001
    capacity_bps: Annotated[float, Field(ge=1.0, le=1.0e15)] = 1.0e9


class HandoverConfig(_Model):
    """Each device is served by the cell with the strongest large-scale gain (path loss and
    shadowing); it hands over when another cell is stronger by more than ``hysteresis_db``
    (checked every block). A handover during a transmission: ``continue`` (the remaining bits
    go on in the new cell), ``restart`` (the whole message is sent again) or ``drop`` (lost)."""

    hysteresis_db: Annotated[float, Field(ge=0, le=30)] = 3.0
    interruption: Literal["continue", "restart", "drop"] = "continue"


class NetworkConfig(_Model):
    """The radio network: band, path loss, shadowing, fading, access, rates, outage, cells."""

    carrier_hz: CarrierHz = 3.5e9
    bandwidth_hz: BandwidthHz = 20.0e6
    noise_figure_db: Annotated[float, Field(ge=0, le=30)] = 7.0
    pathloss: PathLossConfig = LogDistancePathLoss(kind="log_distance")
    shadowing: ShadowingConfig = ShadowingConfig()
    fading: FadingConfig = RayleighFading(kind="rayleigh")
    access: AccessConfig = AccessConfig()
    rate: RateConfig = ShannonRate(kind="shannon")
    outage: OutageConfig = OutageConfig()
    interference: InterferenceConfig | None = None
    cells: tuple[CellConfig, ...] | None = None
    backhaul: tuple[BackhaulLink, ...] | None = None
    handover: HandoverConfig = HandoverConfig()

    @model_validator(mode="after")
    def _topology(self) -> NetworkConfig:
        n_cells = len(self.cells) if self.cells else 1
        if self.cells is not None and len(self.cells) == 0:
            raise _FieldError(("cells",), "expected at least one cell, got an empty list")
        nodes = {"server", *(f"cell{i}" for i in range(n_cells))}
        for i, link in enumerate(self.backhaul or ()):
            for end in ("a", "b"):
                if getattr(link, end) not in nodes:
                    raise _FieldError(
                        ("backhaul", str(i), end),
                        f"expected one of {sorted(nodes)}, got {getattr(link, end)!r}",
                    )
        return self

    @property
    def n_cells(self) -> int:
        return len(self.cells) if self.cells else 1


_Fading = FadingParams  # the former private name

# the shipped models' parameter models; a new model declares its own when it registers
for _name, _params in (
    ("log_distance", LogDistancePathLoss),
    ("free_space", FreeSpacePathLoss),
    ("macro_36814", Macro36814PathLoss),
    ("uma", UmaPathLoss),
    ("umi", UmiPathLoss),
    ("rma", RmaPathLoss),
    ("inh", InhPathLoss),
):
    channels.pathloss.MODELS.declare_params(_name, _params)
for _name, _params in (
    ("none", NoFading),
    ("rayleigh", RayleighFading),
    ("rician", RicianFading),
    ("nakagami", NakagamiFading),
):
    channels.fading.MODELS.declare_params(_name, _params)

"""FedSL (parallel split learning, Ni et al.) and lightweight FedSL (Zhang, Ni, Wang 2024).

Each device k holds a copy of the client-side model (layers 1..s); the server holds one shared
server-side model, updated in the order in which the server finishes the devices' requests. Per
local step of device k:

    client forward (real) -> compute time -> activation dropout (+ optional quantization)
    -> uplink activations + labels -> server queue -> server compute; server forward/backward/
    step (real, at completion) -> split-layer gradient quantized -> downlink -> client backward
    + optimizer step (real) honouring the pruning mask -> compute time

Every ``aggregation_interval`` rounds each device uploads its client-side model; the server
averages them weighted by local data size (FedAvg) and sends the average back to every device.
Lightweight FedSL adds dynamic magnitude pruning of the client-side model, stochastic
quantization of the split-layer gradient and activation dropout; ``fedsl`` is the same scheme
with all three off.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from torch import Tensor, nn

from fedsl_sim.compression import (
    ActivationDropout,
    MagnitudePruning,
    Pruner,
    model_payload_bits,
    prunable_parameters,
)
from fedsl_sim.compression.codec import Codec, CodecContext
from fedsl_sim.learning.federated import FederatedData
from fedsl_sim.learning.flops import backward_flops, forward_flops, profile_layers
from fedsl_sim.learning.models import build_layers
from fedsl_sim.learning.optim import Optimizer
from fedsl_sim.learning.split import (
    apply_gradients,
    check_finite,
    client_backward,
    client_forward,
    evaluate,
    fedavg,
    local_step,
    make_optimizer,
    resolve_device,
    server_gradients,
)
from fedsl_sim.schemes.base import RoundResult, Scheme
from fedsl_sim.schemes.copies import DeviceCopies, PerDevice, SharedCopy, constant
from fedsl_sim.schemes.settings import SchemeSettings, SplitByDistance
from fedsl_sim.schemes.shape import SHIPPED_SHAPES
from fedsl_sim.schemes.tuning import DeviceKnobs, TunableSplit
from fedsl_sim.sim.recorder import (
    AGGREGATION,
    CLIENT_BACKWARD,
    CLIENT_FORWARD,
    DOWNLINK,
    MODEL_DOWNLOAD,
    MODEL_UPLOAD,
    UPLINK,
)
from fedsl_sim.sim.world import Process, World


def _structure(part: nn.Module) -> nn.Module:
    """A module of ``part``'s structure for a device copy (its values are overwritten when
    the copy is loaded; no gradients carried over)."""
    module = copy.deepcopy(part)
    for p in module.parameters():
        p.grad = None
    return module


def _load_part(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Load the entries of ``state`` (some of the model's layers) into ``model``."""
    unexpected = model.load_state_dict(state, strict=False).unexpected_keys
    if unexpected:
        raise KeyError(f"keys not in the model: {unexpected}")


class SplitFed(TunableSplit, Scheme):
    """FedSL / lightweight FedSL (see module docstring); the other split schemes and FL are
    variants set by the class attributes and hooks below."""

    shape = SHIPPED_SHAPES["lightweight_fedsl"]

    def split_points(self, n_layers: int) -> list[int]:
        """Number of layers on each device (``learning.split_layer`` resolved per device)."""
        split = self.settings.split_layer
        n = self.world.n_devices
        if isinstance(split, int):
            return [split] * n
        if not isinstance(split, SplitByDistance):
            return list(split)
        # SplitRule by_distance: nearest devices first, consecutive near-equal groups
        pos = self.world.channel.mobility.position(0.0)
        cells = self.world.channel.cells_m
        dist = np.hypot(*(pos[:, None, :] - cells[None, :, :]).transpose(2, 0, 1)).min(axis=1)
        order = np.argsort(dist, kind="stable")
        out = [0] * n
        for group, members in enumerate(np.array_split(order, len(split.layers))):
            for k in members:
                out[int(k)] = split.layers[group]
        return out

    def __init__(self, settings: SchemeSettings, world: World, data: FederatedData) -> None:
        super().__init__(settings, world, data)
        cfg = settings
        comp = settings.compression
        n = world.n_devices
        layers = build_layers(
            cfg.model,
            data.in_shape,
            data.num_classes,
            world.streams.torch("model_init"),
            **cfg.model_params,
        )
        #: number of layers on each device (its split layer); the server holds layers
        #: min(splits)+1..L and serves device k from its layer splits[k]+1 on
        self.splits = self.split_points(len(layers))
        #: the shallowest and deepest split layer a device may have (the scenario's and
        #: those a control policy may choose): the server's model starts at the first, the
        #: averages hold the layers up to the second
        choices = set(self.splits) | set(cfg.split_choices)
        self.layer_range = (min(choices), max(choices))
        s_min = self.layer_range[0]
        costs = profile_layers(layers, data.in_shape)
        self.layer_costs = costs
        self.client_costs = [costs[:s] for s in self.splits]
        self.server_flops_per_sample = [
            forward_flops(costs[s:]) + backward_flops(costs[s:]) for s in self.splits
        ]
        #: the last averaged whole model; its layers from min(splits) on are the shared
        #: server-side model itself
        self.device = resolve_device(cfg.compute_device)  # checked by Simulation.build
        # initialised on the CPU from the seeded generator, then moved: same start anywhere
        self.global_model = nn.Sequential(*layers).to(self.device)
        self.server = self.global_model[s_min:]  # the shared (or last averaged) server part
        #: the last average of every layer some device holds, as the devices received it
        #: (the live model's layers past the shallowest split keep training on the server)
        self._average = self._snapshot()
        #: SplitFed V1: device k's server-side copy (its layers s_k + 1 ..), made when used
        self.servers: DeviceCopies | None = None
        self._shared_server_opt: Optimizer | None = None
        if self.shape.server_copy_per_device:
            self.servers = DeviceCopies(
                n,
                self._server_structure,
                self._server_optimizer,
                self._server_snapshot(),
                self.splits.__getitem__,
            )
        else:
            self._shared_server_opt = self._server_optimizer(self.server)
        #: every device's client-side copy: a module only while it holds weights of its own
        self.clients: DeviceCopies = DeviceCopies(
            n,
            self._client_structure,
            self._client_optimizer,
            self._average,
            self.splits.__getitem__,
        )
        self.local_steps = cfg.local_steps
        self.label_bits = max(1, math.ceil(math.log2(data.num_classes)))

        self.dropout = ActivationDropout(comp.dropout_rate)
        self.codecs = comp.codecs
        self.sparse_compute = comp.sparse_compute
        self.schedule = comp.schedule
        self.pruners: PerDevice[Pruner] | None = (
            PerDevice(n, self._new_pruner) if comp.pruning_rate > 0 else None
        )
        #: per device, the pruning rate of an update round it has not applied yet
        self._mask_rate: list[float | None] = [None] * n
        streams = world.streams
        self.dropout_gens = PerDevice(n, functools.partial(streams.torch, "dropout"))
        self.quant_gens = PerDevice(n, functools.partial(streams.torch, "quantization"))
        self._densities: PerDevice[list[float] | None] = PerDevice(n, constant(None))
        self._aggregated_this_round = False
        self._servers_averaged_this_round = False
        self._stale: set[int] = set()  # devices that missed the last average
        self.last_aggregated: list[int] = []  # devices in the last FedAvg
        self._served: set[int] = set()  # devices the server stepped for since the last average
        #: averages formed so far, and per device the count when it received the average it
        #: holds (0: the initial model): the staleness of its next update is the difference
        self.averages_formed = 0
        self._base: dict[int, int] = {}
        #: device -> the average it trained from, when that may not be the last one
        #: (asynchronous training; None: the last average)
        self.upload_reference: Callable[[int], Mapping[str, Tensor]] | None = None
        #: the knobs a control policy sets per device and round
        self.device_knobs = DeviceKnobs(self, tuple(cfg.split_choices))

    def enable_pruning(self) -> None:
        """Per-device pruners (a control policy prunes in a scenario that does not)."""
        self.pruners = PerDevice(self.world.n_devices, self._new_pruner)

    # ------------------------------------------------------------------ per-device state
    def _client_structure(self, k: int) -> nn.Module:
        return _structure(self.global_model[: self.splits[k]])

    def _client_optimizer(self, module: nn.Module) -> Optimizer:
        return make_optimizer(module.parameters(), self.settings.optimizer)

    def _server_structure(self, k: int) -> nn.Module:
        return _structure(self.global_model[self.splits[k] :])

    def _server_optimizer(self, module: nn.Module) -> Optimizer | None:
        if not len(module):  # FL has no server part
            return None
        return make_optimizer(module.parameters(), self.settings.server_optimizer)

    def _new_pruner(self, k: int) -> Pruner:
        return Pruner(MagnitudePruning(scope=self.settings.compression.pruning_scope))

    # ------------------------------------------------------------------ round hooks
    def configure(self, r: int) -> None:
        self._aggregated_this_round = self._servers_averaged_this_round = False
        self.schedule_masks(r)

    def schedule_masks(self, r: int) -> None:
        """Round (or, asynchronously, average) ``r`` starts: on the pruning schedule's update
        rounds every device recomputes its mask when it next trains."""
        if self.pruners is not None and self.schedule.is_update_round(r):
            # each device recomputes its mask when it next trains, from the weights it will
            # train (after fetching a missed average), at the rate of this update round (or
            # the one a control policy decided for it)
            self._mask_rate = [self.schedule.rate_at(r)] * self.world.n_devices
            for k, rate in self.device_knobs.pruning.items():
                self._mask_rate[k] = rate

    def aggregate(self, r: int, result: RoundResult) -> Process:
        if self.shape.server_copy_per_device:
            yield from self._aggregate_servers(r, result.uploads)
        yield from self._aggregate(r, result.participants, result.uploads)

    def _update_mask(self, k: int) -> None:
        """Recompute device k's pruning mask if an update round asked for it since its last."""
        rate = self._mask_rate[k]
        if self.pruners is None or rate is None:
            return
        self.pruners[k].update(self.clients[k], rate)
        self._densities[k] = self.pruners[k].densities(self.clients[k])
        self._mask_rate[k] = None

    def save_device(self, k: int) -> tuple[object, ...]:
        """Device k's client-side model, optimizer and pruning state (what it returns to if
        it goes down)."""
        opt = self.clients.optimizer(k)
        return (
            copy.deepcopy(self.clients[k].state_dict()),
            copy.deepcopy(opt.state_dict() if opt is not None else None),
            self._mask_state(k),
        )

    def restore_device(self, k: int, state: tuple[object, ...]) -> None:
        """Device k went down: its client-side model returns to where the round started and it
        must fetch the last average before it next trains."""
        model_state, opt_state, mask_state = state
        self.clients[k].load_state_dict(model_state)  # type: ignore[arg-type]
        opt = self.clients.optimizer(k)
        if opt is not None:
            opt.load_state_dict(opt_state)  # type: ignore[arg-type]
        self._restore_mask_state(k, mask_state)  # type: ignore[arg-type]
        self._stale.add(k)

    def _mask_state(self, k: int) -> tuple[object, ...]:
        """Device k's pruning state (mask, densities, pending update), to restore on failure."""
        if self.pruners is None:
            return ()
        return (
            copy.deepcopy(self.pruners[k].masks),
            self._densities[k],
            self._mask_rate[k],
        )

    def _restore_mask_state(self, k: int, state: tuple[object, ...]) -> None:
        if self.pruners is None:
            return
        masks, dens, rate = state
        self.pruners[k].masks = masks  # type: ignore[assignment]
        self._densities[k] = dens  # type: ignore[assignment]
        self._mask_rate[k] = rate  # type: ignore[assignment]

    @property
    def stale(self) -> frozenset[int]:
        """Devices that missed the last average (they fetch it before they next train)."""
        return frozenset(self._stale)

    @property
    def last_average(self) -> dict[str, Tensor]:
        """The last average of every layer some device holds, as the devices received it."""
        return self._average

    def _snapshot(self) -> dict[str, Tensor]:
        deepest = self.layer_range[1]
        return {
            key: v.detach().clone()
            for key, v in self.global_model.state_dict().items()
            if int(key.split(".", 1)[0]) < deepest
        }

    def _server_snapshot(self) -> dict[str, Tensor]:
        """A copy of the whole model's layers from the shallowest split on (SplitFed V1: what
        every server-side copy holds after an average)."""
        s_min = self.layer_range[0]
        return {
            key: v.detach().clone()
            for key, v in self.global_model.state_dict().items()
            if int(key.split(".", 1)[0]) >= s_min
        }

    @property
    def global_client(self) -> nn.Module:
        """The last averaged client-side model (up to the shallowest split layer)."""
        return self.global_model[: min(self.splits)]

    def _server_for(self, k: int) -> tuple[nn.Module, Optimizer | None]:
        """The server-side model that serves device k (from its layer s_k + 1 on) and the
        optimizer that steps it (over the whole shared model: unused layers get no grad)."""
        if self.servers is not None:
            return self.servers.module(k), self.servers.optimizer(k)
        return self.server[self.splits[k] - self.layer_range[0] :], self._shared_server_opt

    def _batch(self, k: int) -> tuple[Tensor, Tensor]:
        """Device k's next mini-batch, on the compute device."""
        x, y = self.data.next_batch(k)
        return x.to(self.device), y.to(self.device)

    def client_flops(self, k: int) -> tuple[float, float]:
        """Per-sample forward and backward FLOPs of device k's client part (pruning-aware)."""
        costs = self.client_costs[k]
        dens = self._densities[k] if self.sparse_compute else None
        layer_dens = None
        if dens is not None:
            it = iter(dens)
            layer_dens = [next(it) if c.prunable else 1.0 for c in costs]
        return forward_flops(costs, layer_dens), backward_flops(costs, layer_dens)

    def _send(
        self,
        codec: Codec,
        x: Tensor,
        k: int,
        mask: Tensor | None,
        reference: Tensor | None = None,
    ) -> tuple[Tensor, int]:
        """What the receiver reconstructs of device k's message ``x`` through ``codec``, and
        its exact bits (the device's quantization stream drives stochastic stages)."""
        ctx = CodecContext(self.quant_gens[k], mask, reference)
        packet = codec.encode(x, ctx)
        return codec.decode(packet), packet.bits

    def device_round(self, k: int, r: int, aggregate: bool, fetch: bool = True) -> Process:
        """Device k's round: fetch a missed average (unless not ``fetch``: an asynchronous
        device between two of its uploads goes on with its own model), ``local_steps`` split
        steps, and in an aggregation round upload its client-side model; returns what the
        server received (None: lost, or no upload this round)."""
        if fetch and k in self._stale:  # missed the last average: fetch it before training
            fetched = yield from self._download(k, r, self._global_payload_bits(k), next_round=r)
            if not fetched:  # lost: it cannot train on the current model this round
                return None
        self._update_mask(k)
        fwd_flops, bwd_flops = self.client_flops(k)
        for _ in range(self.local_steps):
            yield from self._step(k, r, fwd_flops, bwd_flops)
        if aggregate:
            state, bits = self._upload_payload(k)
            sent = yield from self.world.transmit(k, MODEL_UPLOAD, r, bits)
            if sent.delivered:  # a lost upload leaves the device out of this average
                return state
        return None

    def _step(self, k: int, r: int, fwd_flops: float, bwd_flops: float) -> Process:
        """One split training step of device k on its next mini-batch."""
        world, model, opt = self.world, self.clients.module(k), self.clients.optimizer(k)
        assert opt is not None
        x, y = self._batch(k)
        batch = len(y)
        acts = client_forward(model, x)
        check_finite(acts.detach(), "split-layer activation")
        yield from world.compute(k, CLIENT_FORWARD, r, fwd_flops * batch)
        dropout = self.device_knobs.dropout(k)
        act_codec, grad_codec = self.device_knobs.codecs(k)
        mask = dropout.sample_mask(acts.shape, self.dropout_gens[k], device=acts.device)
        sent, act_bits = self._send(act_codec, dropout.apply(acts.detach(), mask), k, mask)
        sent_up = yield from world.transmit(k, UPLINK, r, act_bits + batch * self.label_bits)
        if not sent_up.delivered:
            return  # the server never sees this batch: no update on either side
        server, server_opt = self._server_for(k)

        def finish(out: tuple[float, Tensor, list[Tensor | None]]) -> tuple[float, Tensor]:
            assert server_opt is not None
            apply_gradients(server, server_opt, out[2])
            return out[0], out[1]

        # the server computes against its model when a worker takes the batch and steps it
        # when the computation completes
        loss, grad = yield from world.server_compute(
            k,
            r,
            self.server_flops_per_sample[k] * batch,
            lambda: server_gradients(server, sent, y),
            finish,
        )
        world.recorder.train_loss(loss)
        self._served.add(k)
        grad_hat, grad_bits = self._send(grad_codec, grad, k, mask)
        sent_down = yield from world.transmit(k, DOWNLINK, r, grad_bits)
        if not sent_down.delivered:
            return  # the server has stepped; the device never gets its gradient
        yield from world.compute(k, CLIENT_BACKWARD, r, bwd_flops * batch)
        # the update exists once its computation has completed (a cut-off loses it)
        client_backward(acts, dropout.grad_to_client(grad_hat, mask), opt)
        if self.pruners is not None:
            self.pruners[k].apply(model)

    # ------------------------------------------------------------------ aggregation
    def _masks(self, k: int) -> list[Tensor] | None:
        return self.pruners[k].masks if self.pruners is not None else None

    def _upload_payload(self, k: int) -> tuple[dict[str, Tensor], int]:
        """Device k's client-side model as the server receives it, and its exact bits: each
        floating tensor through the ``model_upload`` pipeline, with its pruning mask and the
        last average as reference. Integer buffers are not sent (FedAvg takes their
        maximum)."""
        model = self.clients[k]
        masks = self._masks(k)
        state = {key: v.detach().clone() for key, v in model.state_dict().items()}
        mask_of: dict[str, Tensor] = {}
        if masks is not None:
            names = [name for name, _ in prunable_parameters(model)]
            mask_of = dict(zip(names, masks, strict=True))
        # what the server and the device both hold: the average the device trained from
        ref = self._average if self.upload_reference is None else self.upload_reference(k)
        bits = 0
        for key, value in state.items():
            if not value.is_floating_point():
                continue
            state[key], b = self._send(
                self.codecs.model_upload, value, k, mask_of.get(key), ref[key]
            )
            bits += b
        return state, bits

    def _global_payload_bits(self, k: int) -> int:
        """Bits of device k's part of the average (pruned entries not sent)."""
        return self._payload_bits(0, self.splits[k])

    def _payload_bits(self, first: int, end: int) -> int:
        """Bits of layers ``first .. end-1`` of the last average (pruned entries not sent);
        0 for no layer."""
        if end <= first:
            return 0
        view = self.global_model[first:end]  # its structure; the values are the average's
        masks = None
        if self.pruners is not None:
            masks = [self._average[name] != 0 for name, _ in prunable_parameters(view)]
        return model_payload_bits(view, masks, 32)

    def _server_contributions(
        self, devices: list[int] | set[int], server_states: dict[str, Tensor]
    ) -> tuple[list[dict[str, Tensor]], list[float]]:
        """With per-device split layers, a layer l between the shallowest and the deepest
        split is trained both on the devices that hold it and, for the devices split before
        it, on the server: the server's copy of l (``server_states``, whole-model keys) joins
        the average weighted by the data size of those of ``devices`` (the devices it trained
        for) split before l. Nothing when every device has the same split."""
        s_min, s_max = min(self.splits), max(self.splits)  # the layers devices hold now
        states, weights = [], []
        for layer in range(s_min, s_max):
            w = float(sum(self.data.sizes[k] for k in devices if self.splits[k] <= layer))
            prefix = f"{layer}."
            part = {key: v for key, v in server_states.items() if key.startswith(prefix)}
            if w > 0 and part:
                states.append(part)
                weights.append(w)
        return states, weights

    def fetch_average(self, k: int, r: int) -> Process:
        """Device k downloads the last average (a unicast, in round ``r``); returns whether
        it arrived."""
        fetched: bool = yield from self._download(k, r, self._global_payload_bits(k), r)
        return fetched

    def reschedule_mask(self, k: int, since: int, now: int) -> None:
        """Device k was restored to its state of round ``since``: a pruning update round after
        it, up to ``now``, applies to it when it next trains."""
        if self.pruners is None:
            return
        updates = [j for j in range(since + 1, now + 1) if self.schedule.is_update_round(j)]
        if updates:
            rate = self.schedule.rate_at(updates[-1])
            self._mask_rate[k] = self.device_knobs.pruning.get(k, rate)

    def mark_stale(self, k: int) -> None:
        """Device k must fetch the latest average before it next trains."""
        self._stale.add(k)

    def unmark_stale(self, k: int) -> None:
        """Device k is sent the average about to be formed."""
        self._stale.discard(k)

    def aggregate_async(
        self,
        r: int,
        devices: list[int],
        received: dict[int, Any],
        combine: Callable[[list[int], list[Any]], dict[str, Tensor]],
    ) -> Process:
        """The asynchronous server's average of ``received`` (``combine``: its update rule),
        timed like FedAvg and sent to ``devices`` (see :mod:`fedsl_sim.async_driver`)."""
        yield from self._aggregate(r, devices, received, combine)

    def base_version(self, k: int) -> int:
        """How many averages had been formed when device k received the model it holds."""
        return self._base.get(k, 0)

    def _aggregate(
        self,
        r: int,
        devices: list[int],
        received: dict[int, Any],
        combine: Callable[[list[int], list[Any]], dict[str, Tensor]] | None = None,
    ) -> Process:
        """FedAvg of the uploads that arrived (``received``), layer by layer over the copies
        that trained each layer (or ``combine(arrived, uploads)``: the asynchronous server's
        update); the average goes back to this round's devices (the others fetch it when
        they next take part)."""
        arrived = sorted(received)
        if not arrived:
            return  # every upload was lost: no new average, devices keep their models
        self.last_aggregated = arrived
        uploads = [received[k] for k in arrived]
        weights = [float(self.data.sizes[k]) for k in arrived]
        server_state = self.server.state_dict()
        # SplitFed V1's server part is already the average of the arrived devices' copies
        trained_for = arrived if self.shape.server_copy_per_device else self._served
        extra, extra_w = self._server_contributions(trained_for, server_state)
        n_params = sum(self.clients.parameter_count(k) for k in arrived)
        n_params += sum(v.numel() for st in extra for v in st.values() if v.is_floating_point())
        flops = 2.0 * n_params  # one multiply-add per parameter per model
        averaged = yield from self.world.server_compute(
            None,
            r,
            flops,
            lambda: (
                fedavg(uploads + extra, weights + extra_w)
                if combine is None
                else combine(arrived, uploads)
            ),
            kind=AGGREGATION,
        )
        _load_part(self.global_model, averaged)
        if self.servers is not None and (extra or self.layer_range[0] < max(self.splits)):
            # the server-side copies hold layers the devices hold too (per-device split
            # layers, or layers a device may move to the server): they continue from the
            # average of both sides
            self.servers.hold_all(self._server_snapshot())
        self._served = set()
        self._average = self._snapshot()
        self.averages_formed += 1
        self._aggregated_this_round = True
        env = self.world.env
        here = [k for k in devices if k not in self._stale]
        self._stale = set(range(self.world.n_devices)).difference(here)
        if self.settings.downlink == "unicast":
            yield env.all_of(
                [
                    env.process(self._download(k, r, self._global_payload_bits(k), r + 1))
                    for k in here
                ]
            )
        else:
            yield from self._broadcast_average(r, here)

    def _broadcast_average(self, r: int, devices: list[int]) -> Process:
        """The average goes to ``devices`` as one broadcast per cell of the layers they all
        hold (up to the shallowest split), and, with per-device split layers, a unicast of
        each device's deeper layers at the same time; a device that misses either part
        keeps its model and is stale."""
        if not devices:
            return
        env, s_min = self.world.env, min(self.splits)
        common = self._payload_bits(0, s_min)
        deeper = {k: self._payload_bits(s_min, self.splits[k]) for k in devices}
        got: dict[int, bool] = dict.fromkeys(devices, True)

        def unicast(k: int) -> Process:
            sent = yield from self.world.transmit(k, MODEL_DOWNLOAD, r, deeper[k])
            got[k] = got[k] and sent.delivered

        procs = [env.process(unicast(k)) for k in devices if deeper[k] > 0]
        results = yield from self.world.broadcast(devices, MODEL_DOWNLOAD, r, common)
        yield env.all_of(procs)
        for k in devices:
            if results[k].delivered and got[k]:
                self._receive_average(k, next_round=r + 1)
            else:
                self._stale.add(k)  # it must fetch the average before it next trains

    def _server_copies_state(self, devices: list[int]) -> list[Mapping[str, Tensor]]:
        """SplitFed V1: these devices' server-side copies (slices keep the whole model's
        keys)."""
        assert self.servers is not None
        return [self.servers.state(k) for k in devices]

    def _aggregate_servers(self, r: int, received: dict[int, Any]) -> Process:
        """SplitFed V1: the server averages the server-side copies of the devices whose
        client-side upload arrived (as the client side: a device cut off or gone down is left
        out of both), layer by layer, weighted by local data size and timed on a server
        worker; every copy continues from the average."""
        arrived = sorted(received)
        if not arrived:
            return  # no average this time, on either side
        assert self.servers is not None
        weights = [float(self.data.sizes[k]) for k in arrived]
        n_params = sum(self.servers.parameter_count(k) for k in arrived)
        flops = 2.0 * n_params
        states = self._server_copies_state(arrived)
        averaged = yield from self.world.server_compute(
            None, r, flops, lambda: fedavg(states, weights), kind=AGGREGATION
        )
        _load_part(self.global_model, averaged)
        self.servers.hold_all(self._server_snapshot())
        self._servers_averaged_this_round = True

    def _download(self, k: int, r: int, bits: int, next_round: int) -> Process:
        """Device k downloads the last average (a unicast) in round ``r``, to train next in
        ``next_round``; returns whether it arrived. A lost download leaves it on its own model
        and stale: it fetches the average again before it next trains."""
        sent = yield from self.world.transmit(k, MODEL_DOWNLOAD, r, bits)
        if not sent.delivered:
            self._stale.add(k)
            return False
        self._stale.discard(k)
        self._receive_average(k, next_round)
        return True

    def _receive_average(self, k: int, next_round: int) -> None:
        """Device k's client-side model becomes its part of the last average (it keeps no
        module: the average is shared, see :class:`~fedsl_sim.schemes.copies.DeviceCopies`)."""
        masks = None
        if (
            self.pruners is not None
            and self._mask_rate[k] is None
            and not self.schedule.is_update_round(next_round)
        ):
            # keep the device's mask until its next update; when one follows, the new mask is
            # computed from the average itself, so weights other devices kept can come back
            masks = self.pruners[k].masks
        self.clients.hold(k, self._average, masks)
        self._base[k] = self.averages_formed

    # ------------------------------------------------------------------ evaluation
    def evaluate(self) -> tuple[float, float]:
        model = self._current_model()
        s = min(self.splits)
        ds = self.data.dataset
        return evaluate(model[:s], model[s:], ds.test_x, ds.test_y, self.settings.eval_batch_size)

    def _current_model(self) -> nn.Sequential:
        """The whole model the server would form now: the last averages, or, between
        aggregations, the average of every device's current copies (and, for SplitFed V1,
        of the server-side copies), layer by layer over the copies holding each layer."""
        if self._aggregated_this_round and (
            self._servers_averaged_this_round or not self.shape.server_copy_per_device
        ):
            return self.global_model
        model = copy.deepcopy(self.global_model)
        devices = list(range(self.world.n_devices))
        weights = [float(x) for x in self.data.sizes]
        server_state = model[self.layer_range[0] :].state_dict()
        if self.shape.server_copy_per_device and not self._servers_averaged_this_round:
            server_state = fedavg(self._server_copies_state(devices), weights)
            _load_part(model, server_state)
        if not self._aggregated_this_round:
            trained_for = devices if self.shape.server_copy_per_device else self._served
            extra, extra_w = self._server_contributions(trained_for, server_state)
            clients = [self.clients.state(k) for k in devices]
            _load_part(model, fedavg([*clients, *extra], weights + extra_w))
        return model


class SplitFedV1(SplitFed):
    """SplitFed V1 (Thapa et al. 2022): parallel devices, one server-side model copy per
    device; client-side and server-side models both averaged every I rounds."""

    shape = SHIPPED_SHAPES["sfl_v1"]


class SplitFedV2(SplitFed):
    """SplitFed V2 (Thapa et al. 2022): parallel devices, one shared server-side model updated
    in the order the server finishes the devices' requests; client-side models averaged
    every round."""

    shape = SHIPPED_SHAPES["sfl_v2"]


class VanillaSplitLearning(SplitFed):
    """Vanilla split learning (Gupta & Raskar 2018; Vepakomma et al. 2018): one client-side
    model that the devices train in turn, in device order each round, ``local_steps`` steps
    each; between two devices the model goes up to the server and down to the next device
    (timed transmissions of its payload; the optimizer state travels with it, for free). The
    server-side model is shared. No averaging."""

    shape = SHIPPED_SHAPES["sl"]

    def __init__(self, settings: SchemeSettings, world: World, data: FederatedData) -> None:
        super().__init__(settings, world, data)
        n = world.n_devices
        shared = self.clients.module(0)
        self.clients = SharedCopy(n, shared, self.clients.optimizer(0))
        self.global_model = nn.Sequential(*shared, *self.server)  # the shared model is the model
        if self.pruners is not None:
            self.pruners = PerDevice(n, constant(self.pruners[0]))
        self._holder = 0  # the device that holds the client-side model

    def configure(self, r: int) -> None:
        self._aggregated_this_round = True  # the shared model is the model
        if self.pruners is not None and self.schedule.is_update_round(r):
            self.pruners[0].update(self.clients[0], self.schedule.rate_at(r))
            dens = self.pruners[0].densities(self.clients[0])
            self._densities = PerDevice(self.world.n_devices, constant(dens))

    def device_round(self, k: int, r: int, aggregate: bool) -> Process:
        """Device k's turn: the model is handed over to it (unless it holds it), then it
        trains ``local_steps`` steps; nothing is uploaded for averaging."""
        if k != self._holder:
            arrived = yield from self._hand_over(self._holder, k, r)
            if not arrived:
                return None
        fwd_flops, bwd_flops = self.client_flops(k)
        for _ in range(self.local_steps):
            yield from self._step(k, r, fwd_flops, bwd_flops)
        return None

    def _hand_over(self, src: int, dst: int, r: int) -> Process:
        """The client-side model goes from device ``src`` up to the server and down to device
        ``dst``. Returns whether it arrived; if either message is lost, ``src`` keeps the
        model and ``dst`` sits this round out."""
        bits = model_payload_bits(self.clients[0], self._masks(0), 32)
        sent = yield from self.world.transmit(src, MODEL_UPLOAD, r, bits)
        if not sent.delivered:
            return False
        sent = yield from self.world.transmit(dst, MODEL_DOWNLOAD, r, bits)
        if sent.delivered:
            self._holder = dst
        return sent.delivered


class FedAvgScheme(SplitFed):
    """FL (FedAvg, McMahan et al. 2017): the whole model on every device, ``local_steps``
    local SGD steps per round, models uploaded and averaged every I rounds and sent back, all
    as timed transmissions (pruning and model-upload quantization apply as for the client-side
    model of the split schemes)."""

    shape = SHIPPED_SHAPES["fl"]

    def split_points(self, n_layers: int) -> list[int]:
        return [n_layers] * self.world.n_devices  # everything on the device; no server part

    def _step(self, k: int, r: int, fwd_flops: float, bwd_flops: float) -> Process:
        world, model = self.world, self.clients.module(k)
        x, y = self._batch(k)
        batch = len(y)
        yield from world.compute(k, CLIENT_FORWARD, r, fwd_flops * batch)
        yield from world.compute(k, CLIENT_BACKWARD, r, bwd_flops * batch)
        # the step exists once its computation has completed (a cut-off loses it); nobody
        # else reads the device's model meanwhile, so computing it now is the same arithmetic
        opt = self.clients.optimizer(k)
        assert opt is not None
        world.recorder.train_loss(local_step(model, opt, x, y))
        if self.pruners is not None:
            self.pruners[k].apply(model)


class FedSL(SplitFed):
    """FedSL (Ni et al.): lightweight FedSL's scheme with pruning, quantization and dropout
    off, by definition (a scenario that compresses is refused)."""

    shape = SHIPPED_SHAPES["fedsl"]

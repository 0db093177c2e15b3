"""Co-simulation overhead: the same training run through fedsl-sim and as a bare PyTorch loop.

Both sides run lightweight FedSL on VGG-11 with synthetic CIFAR-shaped data and 10 devices:
the same model initialisation, the same mini-batches, the same dropout masks and quantization
noise, the same pruning, FedAvg and final evaluation, and the server-side model updated in the
same order. The co-simulator adds SimPy, the wireless channel and medium, queueing, the
recorder and the CSV outputs; the bare loop is only the arithmetic. Both must end with
bit-identical models (checked), so the ratio of wall times is the simulator's overhead.

Usage::

    .venv/bin/python benchmarks/overhead.py [--rounds 6] [--repeats 5] [--threads N]

Prints ``ratio <co-sim wall / bare wall>`` (best of ``--repeats`` for each side, alternated,
after one untimed warm-up of each). Both walls include building the data and the models; the
co-simulator's also includes building the world and writing the CSV outputs (not the plots).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import fedsl_sim
from fedsl_sim.build import build_data, optimizer_spec
from fedsl_sim.compression import (
    ActivationDropout,
    MagnitudePruning,
    Pruner,
    PruningSchedule,
    StochasticQuantizer,
    model_payload_bits,
)
from fedsl_sim.learning.models import build_layers
from fedsl_sim.learning.split import (
    client_backward,
    client_forward,
    evaluate,
    fedavg,
    make_optimizer,
    server_step,
)
from fedsl_sim.scenario import Scenario, validate_scenario
from fedsl_sim.sim.streams import Streams


def scenario(rounds: int, threads: int) -> Scenario:
    return validate_scenario(
        {
            "name": "overhead-vgg11",
            "seed": 3,
            "execution": {"threads": threads},
            "scheme": "lightweight_fedsl",
            "stop": {"max_rounds": rounds},
            "learning": {
                "dataset": {"kind": "synthetic", "n_train": 640, "n_test": 200},
                "partition": {"kind": "iid"},
                "model": {"kind": "vgg11"},
                "split_layer": 2,
                "batch_size": 32,
                "aggregation_interval": 2,
                "optimizer": {"kind": "sgd", "lr": 0.01, "momentum": 0.9},
                "eval_every_rounds": rounds,
            },
            "compression": {
                "pruning": {"rate": 0.3, "schedule": {"kind": "fixed", "update_every_rounds": 2}},
                "quantization": {"bits": 8},
                "dropout": {"rate": 0.25},
            },
            "devices": {
                "count": 10,
                "mobility": {"kind": "random_waypoint", "speed_mps": [1, 3]},
            },
            "network": {"fading": {"kind": "rayleigh", "coherence_s": 0.01}},
        },
        "benchmarks/overhead.py",
    )


def server_order(events_csv: Path) -> list[list[int]]:
    """Per round, the devices in the order the server finished their requests."""
    order: dict[int, list[int]] = {}
    lines = events_csv.read_text().splitlines()
    header = lines[0].split(",")
    i_dev, i_round, i_kind = header.index("device"), header.index("round"), header.index("kind")
    for line in lines[1:]:
        cells = line.split(",")
        if cells[i_kind] == "server_compute":
            order.setdefault(int(cells[i_round]), []).append(int(cells[i_dev]))
    return [order[r] for r in sorted(order)]


def bare_loop(sc: Scenario, order: list[list[int]]) -> tuple[float, float]:
    """The arithmetic of lightweight FedSL without simulation: returns test accuracy, loss."""
    cfg, comp, n = sc.learning, sc.compression, sc.devices.count
    streams = Streams(sc.seed)
    data = build_data(sc, streams)
    layers = build_layers(
        cfg.model.kind,
        data.in_shape,
        data.num_classes,
        streams.torch("model_init"),
        batch_norm=cfg.model.batch_norm,
    )
    s = cfg.split_layer
    global_client = nn.Sequential(*layers[:s])
    server = nn.Sequential(*layers[s:])
    server_opt = make_optimizer(server.parameters(), optimizer_spec(cfg.resolved_server_optimizer))
    clients = [copy.deepcopy(global_client) for _ in range(n)]
    opts = [make_optimizer(m.parameters(), optimizer_spec(cfg.optimizer)) for m in clients]
    dropout = ActivationDropout(comp.dropout.rate)
    quant = StochasticQuantizer(comp.quantization.bits, comp.quantization.scale)
    pr = comp.pruning
    schedule = PruningSchedule(
        kind=pr.schedule.kind,
        rate=pr.rate,
        start_round=pr.schedule.start_round,
        update_every_rounds=pr.schedule.update_every_rounds,
    )
    pruners = [Pruner(MagnitudePruning(scope=pr.scope)) for _ in range(n)]
    drop_gens = [streams.torch("dropout", k) for k in range(n)]
    quant_gens = [streams.torch("quantization", k) for k in range(n)]
    weights = [float(x) for x in data.sizes]
    for r, devices in enumerate(order):
        if schedule.is_update_round(r):
            for k in range(n):
                pruners[k].update(clients[k], schedule.rate_at(r))
        for k in devices:
            x, y = data.next_batch(k)
            acts = client_forward(clients[k], x)
            mask = dropout.sample_mask(acts.shape, drop_gens[k])
            sent = dropout.apply(acts.detach(), mask)
            _, grad = server_step(server, server_opt, sent, y)
            enc = quant.encode(grad[mask], quant_gens[k])
            grad_hat = torch.zeros_like(grad)
            grad_hat[mask] = quant.decode(enc)
            client_backward(acts, dropout.grad_to_client(grad_hat, mask), opts[k])
            pruners[k].apply(clients[k])
        if (r + 1) % cfg.aggregation_interval == 0:
            states = []
            for k in range(n):
                model_payload_bits(clients[k], pruners[k].masks, 32)
                states.append(
                    {key: v.detach().clone() for key, v in clients[k].state_dict().items()}
                )
            global_client.load_state_dict(fedavg(states, weights))
            for k in range(n):
                clients[k].load_state_dict(global_client.state_dict())
                pruners[k].apply(clients[k])
    final_client = global_client
    if len(order) % cfg.aggregation_interval != 0:  # evaluate the average of the current models
        final_client = copy.deepcopy(global_client)
        final_client.load_state_dict(fedavg([m.state_dict() for m in clients], weights))
    ds = data.dataset
    return evaluate(final_client, server, ds.test_x, ds.test_y, cfg.eval_batch_size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6, help="rounds (default 6; 10 steps each)")
    ap.add_argument(
        "--repeats", type=int, default=5, help="timed runs of each side, alternated (best kept)"
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch threads of both sides (default: torch's default here)",
    )
    args = ap.parse_args()
    sc = scenario(args.rounds, args.threads)
    if sc.learning.eval_every_rounds != sc.stop.max_rounds or sc.learning.local_steps != 1:
        raise SystemExit("the bare loop assumes one local step and a single final evaluation")
    torch.set_num_threads(args.threads)  # the bare side's; the co-sim's is execution.threads
    co_times, bare_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        # untimed warm-up of both sides (allocator, kernel selection) on a one-round run
        warm = scenario(1, args.threads)
        fedsl_sim.run(warm, out_dir=Path(tmp) / "warm", plots=False)
        bare_loop(warm, server_order(Path(tmp) / "warm" / "events.csv"))
        result = None
        for i in range(args.repeats):
            t0 = time.perf_counter()
            result = fedsl_sim.run(sc, out_dir=Path(tmp) / f"run{i}", plots=False)
            co_times.append(time.perf_counter() - t0)
            order = server_order(Path(tmp) / f"run{i}" / "events.csv")
            t0 = time.perf_counter()
            acc, loss = bare_loop(sc, order)
            bare_times.append(time.perf_counter() - t0)
        assert result is not None
        # identical arithmetic: bit-identical test loss (a sum over every test sample's logits)
        summary = result.summary
        identical = summary["final_test_accuracy"] == acc and summary["final_test_loss"] == loss
    co, bare = min(co_times), min(bare_times)
    print(f"co-sim wall  {co:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in co_times)})")
    print(f"bare wall    {bare:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in bare_times)})")
    print(f"simulated    {summary['sim_time_s']:.3f} s over {summary['rounds_completed']} rounds")
    print(f"identical arithmetic: {identical} (final accuracy {acc:.4f}, loss {loss:.6f})")
    if not identical:
        raise SystemExit("the bare loop diverged from the co-simulation; the ratio is meaningless")
    print(f"ratio {co / bare:.3f}")


if __name__ == "__main__":
    main()

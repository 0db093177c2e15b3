"""Compare schemes on one scenario: the same devices, channels and mini-batch order.

``fedsl-sim compare SCENARIO`` runs the scenario once per scheme — every scheme except
``lightweight_fedsl`` with compression off (the baselines of the paper) — into
``<out>/<scheme>/``, then writes ``compare.csv`` (per-scheme totals) and ``compare.png``
(accuracy vs simulated time of every scheme on one figure; energy and bits per scheme).
Every scheme's scenario is validated before any runs; the directory appears complete or not
at all.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from fedsl_sim.build import check_scenario
from fedsl_sim.engine import check_out_dir, run
from fedsl_sim.report.writers import SUMMARY_METRICS, summary_metrics, write_csv
from fedsl_sim.rundir import staged_dir
from fedsl_sim.scenario import SCHEMES, Scenario, load_scenario

COMPRESSION_OFF = {
    "compression.pruning.rate": 0.0,
    "compression.quantization.bits": 32,
    "compression.dropout.rate": 0.0,
}
COLUMNS = ("scheme", *SUMMARY_METRICS, "run_dir")


def scheme_scenarios(
    path: str | Path, schemes: Sequence[str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Scenario]:
    """The scenario of each scheme (all validated first)."""
    out = {}
    for scheme in schemes:
        ov = {**(overrides or {}), "scheme": scheme}
        if scheme != "lightweight_fedsl":
            ov.update(COMPRESSION_OFF)
        out[scheme] = check_scenario(load_scenario(path, overrides=ov), str(path))
    return out


def compare(
    path: str | Path,
    schemes: Sequence[str] = SCHEMES,
    out_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> tuple[Path, list[dict[str, Any]]]:
    """Run every scheme; returns the comparison directory and one summary per scheme."""
    scenarios = scheme_scenarios(path, schemes, overrides)
    name = next(iter(scenarios.values())).name
    final = (
        Path(out_dir)
        if out_dir is not None
        else (Path("results") / name / f"compare-{time.strftime('%Y%m%d-%H%M%S')}")
    )
    check_out_dir(final)
    results = {}
    with staged_dir(final) as partial:  # the directory appears complete or not at all
        for scheme, sc in scenarios.items():
            results[scheme] = run(sc, out_dir=partial / scheme, progress=progress, source=str(path))
        rows = [
            (scheme, *summary_metrics(res.summary).values(), scheme)
            for scheme, res in results.items()
        ]
        write_csv(partial / "compare.csv", COLUMNS, rows)
        plot_comparison(results, partial / "compare.png", title=name)
    return final, [res.summary for res in results.values()]


def plot_comparison(results: Mapping[str, Any], path: Path, title: str = "") -> None:
    """Accuracy vs simulated time of every scheme, and their energy and bits."""
    fig = Figure(figsize=(12, 4), dpi=110)
    ax, ax_e, ax_b = fig.subplots(1, 3, gridspec_kw={"width_ratios": [2, 1, 1]})
    times = []
    for scheme, res in results.items():
        pts = [(r.sim_time_s, r.test_accuracy) for r in res.rounds if r.test_accuracy is not None]
        if pts:
            t, acc = zip(*pts, strict=True)
            times += t
            ax.plot(t, acc, marker="o", ms=3, label=scheme)
    # schemes can differ in time by orders of magnitude (SL is sequential): log time then
    log = bool(times) and min(times) > 0 and max(times) / min(times) > 10
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only: minor ones overlap
    ax.set_xlabel("simulated time (s, log)" if log else "simulated time (s)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}: accuracy vs simulated time" if title else "accuracy vs time")
    names = list(results)
    energy = [[results[n].summary["energy_j"][k] for n in names] for k in ("compute", "transmit")]
    ax_e.bar(names, energy[0], label="compute")
    ax_e.bar(names, energy[1], bottom=energy[0], label="transmit")
    ax_e.set_ylabel("device energy (J)")
    ax_e.legend(fontsize=7)
    bits = [[results[n].summary["bits"][k] / 1e6 for n in names] for k in ("uplink", "downlink")]
    ax_b.bar(names, bits[0], label="uplink")
    ax_b.bar(names, bits[1], bottom=bits[0], label="downlink")
    ax_b.set_ylabel("Mbit")
    ax_b.legend(fontsize=7)
    for a in (ax_e, ax_b):
        a.tick_params(axis="x", rotation=45, labelsize=7)
    fig.tight_layout()
    fig.savefig(path)

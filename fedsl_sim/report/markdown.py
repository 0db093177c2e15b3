"""The Markdown page of a study report (``report.md``; see :mod:`fedsl_sim.report.study`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fedsl_sim.report.study import (
    CONFIDENCE,
    ENERGY_PER_DEVICE,
    LATENCY_LABELS,
    METRIC_GROUPS,
    METRICS,
    Report,
    _case_label,
    _fmt,
    _latency_keys,
    format_interval,
)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def report_markdown(report: Report) -> str:
    """``report.md``: the report's tables and figures as Markdown."""
    c_runs = report.counts
    skipped = c_runs["failed"] + c_runs["pending"]
    scenarios = ", ".join(sorted({str(r.summary.get("scenario")) for r in report.runs}))
    schemes = ", ".join(sorted({str(r.summary.get("scheme")) for r in report.runs}))
    lines = [f"# Report: {report.name}", ""]
    if report.kind == "sweep":
        lines.append(f"- Sweep `{report.name}` in `{report.source}`.")
    else:
        lines.append(f"- Single run `{report.source}` (n = 1: no confidence intervals).")
    base = f"`{report.base}`" if report.base else "–"
    lines += [
        f"- Base scenario: {base}; scenario name(s): {scenarios}; scheme(s): {schemes}.",
        f"- Runs in sweep.csv: {c_runs['total']} — {c_runs['done']} done, {c_runs['failed']} "
        f"failed, {c_runs['pending']} pending; {skipped} skipped as failed/pending."
        if report.kind == "sweep"
        else "- Runs: 1 done.",
    ]
    if report.target_override is not None:
        lines.append(
            f"- Target accuracy: {report.target_override:g} (`--target`, time to target "
            "recomputed from rounds.csv)."
        )
    else:
        targets = sorted({r.target_accuracy for r in report.runs if r.target_accuracy is not None})
        lines.append(
            "- Target accuracy: "
            + (", ".join(f"{t:g}" for t in targets) if targets else "none set")
            + " (from each run's summary)."
        )
    lines += [
        "",
        f"Cells are mean ± half-width of the two-sided {CONFIDENCE:.0%} Student-t confidence "
        "interval over the seeds of a configuration (t_{0.975, n−1} · s / √n, s the sample "
        "standard deviation); `± n/a`: n = 1, no interval.",
        "",
        "## Configurations",
        "",
    ]
    lines += _md_table(
        ("id", "configuration", "done", "failed", "pending", "seeds"),
        (
            (
                c.id,
                _md_escape(_case_label(report, c)),
                str(c.n),
                str(c.failed),
                str(c.pending),
                ", ".join(str(r.seed) for r in c.runs),
            )
            for c in report.cases
        ),
    )
    if report.skipped_cases:
        lines.append("Configurations without a done run (not in the tables):")
        lines += [
            f"- {_md_escape(c.label or 'base scenario')}: {c.failed} failed, {c.pending} pending"
            for c in report.skipped_cases
        ]
        lines.append("")
    labels = {k: (label, unit) for k, label, unit in METRICS}
    for title, keys in METRIC_GROUPS:
        lines += [f"## {title}", ""]
        header = ["case", "n"]
        for k in keys:
            label, unit = labels[k]
            header.append(f"{label} ({unit})" if unit else label)
            if k == "time_to_target_s":
                header.insert(-1, "reached target")
        rows = []
        for c in report.cases:
            row = [c.id, str(c.n)]
            for k in keys:
                if k == "time_to_target_s":
                    row.append(f"{c.reached}/{c.n}")
                row.append(format_interval(c.stats[k]))
            rows.append(row)
        lines += _md_table(header, rows)
        if "time_to_target_s" in keys:
            lines += [
                "Time to target: the interval is over the runs that reached the target.",
                "",
            ]
    lat = _latency_keys(report)
    lines += [
        "## Latency per round (critical path)",
        "",
        "Seconds per round on each round's critical path (walking back from the round's end "
        "through the events each step waited for); the columns sum to the simulated time per "
        "round. Mean over seeds.",
        "",
    ]
    lines += _md_table(
        ["case", *(LATENCY_LABELS[k] for k in lat), "total"],
        (
            [
                c.id,
                *(_fmt(c.stats[f"latency_{k}_s"].mean) for k in lat),
                _fmt(c.stats["sim_time_per_round_s"].mean),
            ]
            for c in report.cases
        ),
    )
    lines += ["## Energy per device", ""]
    lines += _md_table(
        ("case", "compute (J)", "transmit (J)"),
        (
            [c.id, *(format_interval(c.stats[k]) for k, _ in ENERGY_PER_DEVICE)]
            for c in report.cases
        ),
    )
    x_label = "time to target" if report.pareto_x == "time_to_target_s" else "simulated time"
    lines += [
        "## Pareto-optimal configurations",
        "",
        f"Minimizing mean {x_label} and mean total device energy"
        + (
            " (every run reached the target accuracy)"
            if report.pareto_x == "time_to_target_s"
            else ", maximizing mean final test accuracy (simulated time: not every run "
            "reached the target)"
        )
        + ": "
        + ", ".join(
            f"{c.id} ({_md_escape(_case_label(report, c))})"
            for c in report.cases
            if c.id in report.pareto
        )
        + ".",
        "",
        "## Figures",
        "",
    ]
    titles = {
        "accuracy_vs_time.png": "accuracy vs simulated time",
        "time_to_target.png": "time to target",
        "latency_breakdown.png": "latency breakdown per round",
        "energy_per_device.png": "energy per device",
        "pareto.png": "time vs energy, Pareto front",
        "decisions.png": "control decisions per round",
    }
    for f in report.figures:
        lines += [f"![{titles[f]}]({f})", ""]
    return "\n".join(lines)

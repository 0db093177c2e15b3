"""Command line: ``fedsl-sim run | validate | link | compare | sweep | report | data``.

Exit codes: 0 success, 2 invalid input (the message names the file, the dotted field path,
what was expected and what was given; no traceback), 1 anything else.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

EXIT_OK, EXIT_FAILURE, EXIT_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep its usage line
        self.print_usage(sys.stderr)
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="fedsl-sim",
        description="Co-simulator of federated split learning over wireless networks.",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run one scenario")
    run.add_argument("scenario", nargs="?", help="scenario YAML file (not with --resume)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field, e.g. --set learning.split_layer=3 (repeatable)",
    )
    run.add_argument("--seed", type=int, default=None, help="replace the scenario's seed")
    run.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for torch (sets execution.threads; default the scenario's, 1: the "
        "same outputs on every machine)",
    )
    run.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="run directory to create (default results/<name>/<run-id>/)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    run.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="R",
        help="save a checkpoint every R rounds (with --resume: default the saved interval)",
    )
    run.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="continue an interrupted run from its latest checkpoint",
    )
    run.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="with --resume: load a checkpoint not signed with your key (one you copied from "
        "elsewhere); loading a checkpoint can run code from it",
    )
    val = sub.add_parser("validate", help="validate scenario files")
    val.add_argument("files", nargs="+", help="scenario YAML files")
    cmp_ = sub.add_parser("compare", help="run a scenario once per scheme and compare them")
    cmp_.add_argument("scenario", help="scenario YAML file")
    cmp_.add_argument("--schemes", default=None, help="comma-separated (default: all)")
    cmp_.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    cmp_.add_argument("--out", default=None, metavar="DIR", help="comparison directory")
    cmp_.add_argument("--workers", type=int, default=1, help="schemes run at a time (default 1)")
    cmp_.add_argument("--quiet", action="store_true")
    link = sub.add_parser("link", help="link budget of every device of a scenario")
    link.add_argument("scenario", help="scenario YAML file")
    link.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    link.add_argument("--seed", type=int, default=None, help="replace the scenario's seed")
    link.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    swp = sub.add_parser("sweep", help="run a sweep file: a grid of overrides x seeds")
    swp.add_argument("sweep", help="sweep YAML file (base:, set:, grid:, cases:, seeds:, name:)")
    swp.add_argument("--out", default=None, metavar="DIR", help="default results/sweeps/<name>/")
    swp.add_argument("--workers", type=int, default=None, metavar="N", help="parallel runs")
    swp.add_argument("--backend", choices=("local", "ray"), default="local")
    swp.add_argument("--address", default=None, metavar="RAY_ADDRESS", help="Ray cluster")
    swp.add_argument("--quiet", action="store_true", help="no progress bar")
    swp.add_argument(
        "--max-runs",
        type=int,
        default=None,
        metavar="N",
        help="refuse sweeps of more than N runs (default 100,000)",
    )
    dat = sub.add_parser("data", help="check a dataset folder, or download a dataset into one")
    dat.add_argument("dataset", choices=("cifar10", "mnist", "fashion_mnist"))
    dat.add_argument("root", nargs="?", default=None, metavar="DIR", help="folder to check")
    dat.add_argument(
        "--download", default=None, metavar="DIR", help="fetch, verify and extract into DIR"
    )
    dat.add_argument("--format", choices=("binary", "python"), default=None, help="CIFAR-10 only")
    sch = sub.add_parser("schema", help="the scenario's JSON schema, for editors")
    sch.add_argument(
        "--out", default=None, metavar="FILE", help="write it to FILE (default: standard output)"
    )
    rep = sub.add_parser("report", help="summarize a run or a sweep: tables, intervals, figures")
    rep.add_argument("dir", metavar="DIR", help="run directory or sweep directory")
    rep.add_argument("--out", default=None, metavar="DIR", help="default <DIR>/report/")
    rep.add_argument(
        "--target", type=float, default=None, metavar="ACC", help="target accuracy (0-1)"
    )
    return p


def scenario_schema_json() -> str:
    """The scenario's JSON schema (draft 2020-12), as ``fedsl-sim schema`` writes it."""
    import json

    from fedsl_sim.scenario import Scenario

    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "fedsl-sim scenario"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _cmd_schema(args: argparse.Namespace) -> int:
    from fedsl_sim.rundir import write_atomic
    from fedsl_sim.scenario import ScenarioError

    text = scenario_schema_json()
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    out = Path(args.out)
    try:
        write_atomic(out, text)
    except OSError as exc:
        raise ScenarioError("--out", f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {out}")
    return EXIT_OK


def _cmd_validate(files: Sequence[str]) -> int:
    from fedsl_sim.build import check_scenario
    from fedsl_sim.scenario import ScenarioError, load_scenario
    from fedsl_sim.sweep import is_sweep_file, load_sweep

    status = EXIT_OK
    for f in files:
        try:
            if is_sweep_file(f):
                print(f"ok: {f} (sweep, {len(load_sweep(f))} runs)")
                continue
            sc = check_scenario(load_scenario(f), f)
        except ScenarioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_INPUT
        else:
            print(f"ok: {f} ({sc.name}, scheme {sc.scheme}, {sc.devices.count} devices)")
    return status


def _cmd_run(args: argparse.Namespace) -> int:
    from fedsl_sim.checkpoint import checkpoint_path
    from fedsl_sim.engine import resume, run
    from fedsl_sim.report.writers import format_summary
    from fedsl_sim.scenario import ScenarioError, load_scenario, parse_override

    progress, plots = not args.quiet, not args.no_plots
    out = args.resume
    try:
        if args.resume is not None:
            given = [
                opt
                for opt, used in (
                    ("SCENARIO", args.scenario is not None),
                    ("--set", bool(args.overrides)),
                    ("--seed", args.seed is not None),
                    ("--threads", args.threads is not None),
                    ("--out", args.out is not None),
                )
                if used
            ]
            if given:
                raise ScenarioError(
                    "--resume",
                    "the scenario and the run directory come from the checkpoint; "
                    f"{', '.join(given)} cannot be given with --resume",
                )
            res = resume(
                args.resume,
                progress,
                plots,
                checkpoint_every=args.checkpoint_every,
                trust=args.trust_checkpoint,
            )
        else:
            if args.scenario is None:
                raise ScenarioError("fedsl-sim run", "expected a SCENARIO file or --resume RUN_DIR")
            if args.trust_checkpoint:
                raise ScenarioError("--trust-checkpoint", "expected only with --resume")
            overrides = dict(parse_override(o) for o in args.overrides)
            if args.threads is not None:
                overrides["execution.threads"] = args.threads
            sc = load_scenario(args.scenario, overrides=overrides, seed=args.seed)
            out = args.out
            claimed: list[Path] = []
            try:
                res = run(
                    sc,
                    out_dir=out,
                    progress=progress,
                    plots=plots,
                    source=args.scenario,
                    checkpoint_every=args.checkpoint_every,
                    on_run_dir=claimed.append,  # a default name may get a suffix
                )
            finally:
                out = claimed[-1] if claimed else out
    except KeyboardInterrupt:
        if out is None or not checkpoint_path(out).exists():
            raise
        print(
            f"interrupted; continue from the latest checkpoint with: fedsl-sim run --resume {out}",
            file=sys.stderr,
        )
        return 130
    if res.summary["stop_reason"] == "diverged":
        print(
            f"warning: training diverged after {res.summary['rounds_completed']} rounds (a "
            "non-finite loss or activation; e.g. a learning rate too large); the outputs hold "
            "the rounds before it",
            file=sys.stderr,
        )
    if not args.quiet:
        print(format_summary(res.summary))
        print(f"outputs: {res.out_dir}")
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from fedsl_sim.compare import compare
    from fedsl_sim.scenario import ScenarioError, parse_override
    from fedsl_sim.schemes.registry import SCHEMES, SHIPPED_SCHEMES

    schemes = SHIPPED_SCHEMES if args.schemes is None else tuple(args.schemes.split(","))
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown:
        raise ScenarioError("--schemes", f"expected names from {SCHEMES.names()}, got {unknown}")
    overrides = dict(parse_override(o) for o in args.overrides)
    out, summaries = compare(
        args.scenario, schemes, args.out, overrides, progress=not args.quiet, workers=args.workers
    )
    if not args.quiet:
        for s in summaries:
            acc = s["final_test_accuracy"]
            acc_text = "-" if acc is None else f"{acc:.4f}"
            print(
                f"{s['scheme']:>18}  accuracy {acc_text}  simulated {s['sim_time_s']:.4g} s  "
                f"energy {s['energy_j']['total']:.4g} J"
            )
        report = f" (report: {out / 'report'})" if summaries else ""
        print(f"outputs: {out}{report}")
    n_schemes = len(dict.fromkeys(schemes))
    if len(summaries) < n_schemes:
        print(
            f"error: {n_schemes - len(summaries)} of {n_schemes} schemes failed; see "
            f"{Path(out) / 'runs'}/*.error.txt; the same command with --out {out} resumes",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def _cmd_sweep(args: argparse.Namespace) -> int:
    from fedsl_sim.sweep import MAX_SWEEP_RUNS, run_sweep

    try:
        out, rows = run_sweep(
            args.sweep,
            args.out,
            args.workers,
            args.backend,
            args.address,
            not args.quiet,
            MAX_SWEEP_RUNS if args.max_runs is None else args.max_runs,
        )
    except KeyboardInterrupt:
        print("interrupted; finished runs are kept (the same command resumes)", file=sys.stderr)
        return 130
    failed = sum(r["status"] == "failed" for r in rows)
    print(f"{len(rows)} runs: {len(rows) - failed} done, {failed} failed")
    print(f"outputs: {out}")
    return EXIT_FAILURE if failed else EXIT_OK


def _cmd_data(args: argparse.Namespace) -> int:
    from fedsl_sim.learning.datafiles import (
        DownloadError,
        check_dataset,
        describe,
        download_dataset,
    )
    from fedsl_sim.scenario import ScenarioError

    if (args.root is None) == (args.download is None):
        raise ScenarioError("fedsl-sim data", "expected a folder to check or --download DIR")
    try:
        if args.download is not None:
            raw = download_dataset(args.dataset, args.download, args.format)
        else:
            raw = check_dataset(args.dataset, args.root, args.format)
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(describe(raw, args.download or args.root))
    return EXIT_OK


def _cmd_link(args: argparse.Namespace) -> int:
    import json

    from fedsl_sim.linkbudget import format_link_budget, link_budget
    from fedsl_sim.scenario import load_scenario, parse_override

    overrides = dict(parse_override(o) for o in args.overrides)
    sc = load_scenario(args.scenario, overrides=overrides, seed=args.seed)
    rows = link_budget(sc)
    print(json.dumps(rows, indent=2) if args.json else format_link_budget(sc, rows))
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from fedsl_sim.report.study import write_report

    out, report = write_report(args.dir, args.out, args.target)
    c = report.counts
    skipped = c["failed"] + c["pending"]
    print(f"{len(report.cases)} configurations, {c['done']} runs ({skipped} skipped): {out}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``fedsl-sim ARGV``; returns the exit code (0 ok, 1 failed, 2 bad
    input)."""
    args = _build_parser().parse_args(argv)
    with warnings.catch_warnings():
        _plain_deprecations()
        return _dispatch(args)


def _plain_deprecations() -> None:
    """Print a scenario's deprecated spellings as ``warning: <file>: <field> ...`` lines (once
    each), not as Python warnings pointing into the code."""
    from fedsl_sim.scenario import ScenarioDeprecationWarning

    warnings.simplefilter("default", ScenarioDeprecationWarning)
    python_way = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, ScenarioDeprecationWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            python_way(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command; bad input exits 2 with one message, never a traceback."""
    from fedsl_sim.scenario import ScenarioError
    from fedsl_sim.sim.medium import SimulationError

    try:
        if args.command == "validate":
            return _cmd_validate(args.files)
        if args.command == "link":
            return _cmd_link(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "data":
            return _cmd_data(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        if args.command == "schema":
            return _cmd_schema(args)
        if args.command == "report":
            return _cmd_report(args)
        return _cmd_run(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except SimulationError as exc:
        print(f"error: simulation cannot proceed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted; no results were written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        sys.stderr.close()
        return EXIT_OK
    except OSError as exc:  # e.g. a full disk while writing outputs, a checkpoint, a report
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"error: file system error: {exc.strerror or exc}{where}; partial outputs were "
            "removed (a sweep's sweep.csv keeps its last complete state: the same command "
            "resumes)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())

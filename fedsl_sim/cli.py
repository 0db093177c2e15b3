"""Command line: ``fedsl-sim run | validate | link | compare``.

Exit codes: 0 success, 2 invalid input (the message names the file, the dotted field path,
what was expected and what was given; no traceback), 1 anything else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    run.add_argument("scenario", help="scenario YAML file")
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
        "--out",
        default=None,
        metavar="DIR",
        help="run directory to create (default results/<name>/<run-id>/)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    val = sub.add_parser("validate", help="validate scenario files")
    val.add_argument("files", nargs="+", help="scenario YAML files")
    cmp_ = sub.add_parser("compare", help="run a scenario once per scheme and compare them")
    cmp_.add_argument("scenario", help="scenario YAML file")
    cmp_.add_argument("--schemes", default=None, help="comma-separated (default: all)")
    cmp_.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    cmp_.add_argument("--out", default=None, metavar="DIR", help="comparison directory")
    cmp_.add_argument("--quiet", action="store_true")
    link = sub.add_parser("link", help="link budget of every device of a scenario")
    link.add_argument("scenario", help="scenario YAML file")
    link.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    link.add_argument("--seed", type=int, default=None, help="replace the scenario's seed")
    link.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    return p


def _cmd_validate(files: Sequence[str]) -> int:
    from fedsl_sim.scenario import ScenarioError, load_scenario

    status = EXIT_OK
    for f in files:
        try:
            sc = load_scenario(f)
        except ScenarioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_INPUT
        else:
            print(f"ok: {f} ({sc.name}, scheme {sc.scheme}, {sc.devices.count} devices)")
    return status


def _cmd_run(args: argparse.Namespace) -> int:
    from fedsl_sim.engine import run
    from fedsl_sim.report.writers import format_summary
    from fedsl_sim.scenario import load_scenario, parse_override

    overrides = dict(parse_override(o) for o in args.overrides)
    sc = load_scenario(args.scenario, overrides=overrides, seed=args.seed)
    res = run(
        sc, out_dir=args.out, progress=not args.quiet, plots=not args.no_plots, source=args.scenario
    )
    if not args.quiet:
        print(format_summary(res.summary))
        print(f"outputs: {res.out_dir}")
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from fedsl_sim.compare import compare
    from fedsl_sim.scenario import SCHEMES, ScenarioError, parse_override

    schemes = SCHEMES if args.schemes is None else tuple(args.schemes.split(","))
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown:
        raise ScenarioError("--schemes", f"expected names from {list(SCHEMES)}, got {unknown}")
    overrides = dict(parse_override(o) for o in args.overrides)
    out, summaries = compare(args.scenario, schemes, args.out, overrides, progress=not args.quiet)
    if not args.quiet:
        for s in summaries:
            acc = s["final_test_accuracy"]
            print(
                f"{s['scheme']:>18}  accuracy {acc:.4f}  simulated {s['sim_time_s']:.4g} s  "
                f"energy {s['energy_j']['total']:.4g} J"
            )
        print(f"outputs: {out}")
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


def main(argv: Sequence[str] | None = None) -> int:
    from fedsl_sim.scenario import ScenarioError
    from fedsl_sim.sim.medium import SimulationError

    args = _build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _cmd_validate(args.files)
        if args.command == "link":
            return _cmd_link(args)
        if args.command == "compare":
            return _cmd_compare(args)
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


if __name__ == "__main__":
    sys.exit(main())

"""The ``naravard`` command.

Sub-commands import their modules lazily, so ``naravard --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

from naravard_analysis import __version__
from naravard_analysis.errors import NaravardError

SYNTH_HELP = """\
Presets:
  demo     small world (about 20 000 persons, 2016-2023), seconds; used by `make demo`,
           the notebook tests and the papers
  region   about 300 000 persons, 2015-2023, a few minutes
  scale    1 000 000 persons over 2 years, for benchmarks
  national all 21 regions at their real size (10.3 M residents, 2015-2023), region by region
           into partitioned Parquet (needs --partitions; larger than memory, hours)
  coverage 12 000 residents aged 60+, 2017-2023, seconds; the size of the scenario worlds

Scenarios (--scenario; any preset but national): one intervention rolled out the way it really
is, with known truth.
  teams_targeted         mobile teams start first in the municipalities with the highest
                         admission rates; patients enrolled right after an admission spike
  teams_random           the same, municipalities start in random order
  named_doctor_targeted  named doctors unit by unit, highest-rate units first; within a unit
                         the recently admitted, the old and the multimorbid first; rates fall
                         4 % a year
  named_doctor_random    the same units and trend, random order, the same hazard for everybody

Effects: --effects known (default: the preset's documented true effects of mobile teams and named
doctors; with --scenario, the scenario's known effect: mobile teams 0.70 except on hip fractures,
named doctors 0.85) or
--effects none (the no-effect world, where any before/after drop is regression to the mean). The
true parameters are written to DIR/truth.json beside the data (a scenario's under "scenario").

Example: naravard synth --preset coverage --scenario teams_targeted --seed 3 --out DIR
"""


class _RegistryNames:
    """The names of a registry dict of the synthetic world, read when first needed.

    argparse looks at ``choices`` only to check a value or to write help; importing the registry
    (numpy, pandas, the simulation) while the parser is built would slow every command, ``naravard
    --help`` included. The registry stays the one list of valid names.
    """

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name = module, name

    def _names(self) -> list[str]:
        return list(getattr(importlib.import_module(self._module), self._name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, value: object) -> bool:
        return value in self._names()

    def __len__(self) -> int:
        return len(self._names())


PRESET_NAMES = _RegistryNames("naravard_analysis.data.synthetic.presets", "PRESETS")
SCENARIO_NAMES = _RegistryNames("naravard_analysis.data.synthetic.scenarios", "SCENARIOS")


def _cmd_run(args: argparse.Namespace) -> int:
    from naravard_analysis.report.pipeline import coerce_cli_parameters, run_notebook

    params: dict = {}
    if args.parameters_file:
        import yaml

        loaded = yaml.safe_load(Path(args.parameters_file).read_text(encoding="utf-8")) or {}
        params.update(loaded)
    params.update(coerce_cli_parameters(args.notebook, dict(args.p or [])))
    out = run_notebook(args.notebook, args.output, params, timeout=args.timeout)
    print(f"Executed notebook: {out}")
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    from naravard_analysis.report.pipeline import _default_value, notebook_parameters

    for name, spec in notebook_parameters(args.notebook).items():
        help_text = f"  # {spec['help']}" if spec.get("help") else ""
        kind = spec.get("inferred_type_name")
        if kind in (None, "", "None"):  # papermill names only annotated types: the default's type
            kind = type(_default_value(spec)).__name__
        print(f"{name}: {kind} = {spec.get('default')}{help_text}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from naravard_analysis.errors import ParameterError

    if args.preset == "national":
        if args.scenario is not None:
            raise ParameterError(
                f"--scenario {args.scenario} does not apply to --preset national (every region at "
                "its real size, written region by region); build a scenario world with --preset "
                "coverage (its size), demo or region"
            )
        return _synth_national(args)
    from naravard_analysis.data.synthetic import make_world
    from naravard_analysis.report.parameters import validate_region_code

    region = validate_region_code(args.region)
    # "known" is make_world's effects=None: the preset's true effects, or the scenario's
    data = make_world(
        args.preset,
        region=region,
        seed=args.seed,
        n_persons=args.n_persons,
        effects=None if args.effects == "known" else args.effects,
        scenario=args.scenario,
    )
    out = data.to_dir(args.out, partitions=args.partitions)
    print(f"{data!r}\nWritten to {out}")
    if args.scenario is not None:
        print(_scenario_note(data.meta["truth"]["scenario"], args.effects))
    return 0


def _scenario_note(truth: dict, effects: str) -> str:
    """One paragraph on the scenario world just written: its name, mechanism and true rate ratios."""
    which = "known effect" if effects == "known" else "no effect"
    ratios = ", ".join(f"{k} {v:.3g}" for k, v in sorted(truth["true_rate_ratio"].items())
                       if v is not None)
    return (f"Scenario {truth['name']} ({which}): {truth['description']}.\n"
            f"True rate ratios: {ratios} (truth.json, under \"scenario\").")


def _synth_national(args: argparse.Namespace) -> int:
    """Every region at its real size, region by region into partitioned Parquet."""
    from naravard_analysis.data.synthetic.national import make_national
    from naravard_analysis.errors import ParameterError

    if not args.partitions:
        raise ParameterError("--preset national is larger than memory and written as partitioned "
                             "Parquet: give --partitions N (person buckets per region, e.g. 16)")
    if args.n_persons is not None:
        raise ParameterError("--n-persons does not apply to --preset national (real region sizes)")
    out = make_national(args.out, partitions=args.partitions, seed=args.seed,
                        effects=None if args.effects == "known" else args.effects, progress=print)
    print(f"Written to {out} (read it with RegisterData.from_dir(path, engine='dask'))")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from naravard_analysis.report.scan import check_outputs

    if args.record:  # the checker's record lists failing outputs too
        from naravard_analysis.report.acro import write_acro_record

        report = check_outputs(args.directory, min_count=args.min_count, raise_on_failure=False)
        record = write_acro_record(
            args.directory, command=f"naravard check DIR --min-count {args.min_count}",
            report=report, min_count=args.min_count,
        )
        print(report)
        print(f"Output-checking record (ACRO layout): {record}")
        return 0 if report.ok else 1
    report = check_outputs(args.directory, min_count=args.min_count)
    print(report)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from naravard_analysis.report.batch import REPORT_NOTEBOOK, run_reports
    from naravard_analysis.report.pipeline import coerce_cli_parameters

    # typed by the notebook's defaults before any kernel starts, as `naravard run` does
    params: dict = {"language": args.language}
    params.update(coerce_cli_parameters(REPORT_NOTEBOOK, dict(args.p or [])))
    if args.cluster or args.local_cluster:
        # the notebook connects; its per-person flags then run on that dask.distributed cluster
        params["cluster"] = args.cluster or f"local:{args.local_cluster}"
    summary = run_reports(
        args.regions,
        data=args.data,
        out=args.out,
        jobs=args.jobs,
        parameters=params,
        synth_preset=args.synth,
        seed=args.seed,
        min_count=args.min_count,
    )
    print(summary.drop(columns=["html"]).to_string(index=False))
    for html in summary.loc[summary["status"] == "ok", "html"]:
        print(f"Report: {html}")
    return 0 if (summary["status"] == "ok").all() else 1


def _cmd_reproduce(args: argparse.Namespace) -> int:
    import pandas as pd

    from naravard_analysis.report.reproduce import reproduce_paper

    result = reproduce_paper(args.paper, work_dir=args.work_dir, record=args.record)
    for row in result.itertuples():
        if row.status == "differs":
            note = f" ({row.note})" if row.note else ""
            if pd.isna(row.max_abs_diff):
                print(f"{row.id}: differs{note}")
            else:
                print(f"{row.id}: differs, largest absolute difference {row.max_abs_diff:.3g}{note}")
        else:
            print(f"{row.id}: {row.status}")
    return 0 if result["status"].isin(["identical", "recorded"]).all() else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="naravard",
        description="naravard_analysis: measure the shift to nära vård from register data.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a parameterised notebook through Papermill (parameters validated first)",
        description="Run NOTEBOOK with Papermill. Parameters are checked before the kernel starts: "
        "unknown names are errors, region codes must be two-digit strings such as 14 or 01.",
    )
    run.add_argument("notebook")
    run.add_argument(
        "-p", nargs=2, action="append", metavar=("NAME", "VALUE"),
        help="set a parameter (converted to the type of the notebook's default; text keeps leading zeros)",
    )
    run.add_argument("-f", "--parameters-file", help="YAML file of parameters (quote codes: '0114')")
    run.add_argument("-o", "--output", help="executed notebook path (default: in output_dir)")
    run.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    run.set_defaults(func=_cmd_run)

    params = sub.add_parser("params", help="list a notebook's parameters and defaults")
    params.add_argument("notebook")
    params.set_defaults(func=_cmd_params)

    synth = sub.add_parser(
        "synth",
        help="generate a synthetic register world with known truth",
        description="Generate a synthetic Swedish register world and write it as a RegisterData "
        "directory (Parquet + manifest.json + truth.json).",
        epilog=SYNTH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # metavar given: argparse then reads the lazy choices only to check a value or to write help
    synth.add_argument("--preset", default="demo", choices=PRESET_NAMES, metavar="PRESET",
                       help="one of %(choices)s (default %(default)s; below)")
    synth.add_argument("--region", default="14", help="two-digit region code (default 14)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--n-persons", type=int, default=None, help="override the preset's size")
    synth.add_argument("--scenario", default=None, choices=SCENARIO_NAMES, metavar="SCENARIO",
                       help="a targeted roll-out with known truth, one of %(choices)s (below; "
                       "not with --preset national)")
    synth.add_argument("--effects", default="known", choices=["known", "none"],
                       help="known: the preset's (or the scenario's) true effects; none: no effect "
                       "(default %(default)s)")
    synth.add_argument("--out", required=True, help="output directory")
    synth.add_argument("--partitions", type=int, default=None, metavar="N",
                       help="write hive-partitioned Parquet: person region x N hash buckets "
                       "(read lazily with RegisterData.from_dir(path, engine='dask'))")
    synth.set_defaults(func=_cmd_synth)

    check = sub.add_parser(
        "check", help="scan an output folder for small counts and personnummer before publishing"
    )
    check.add_argument("directory")
    check.add_argument("--min-count", type=int, default=5)
    check.add_argument("--record", action="store_true",
                       help="also write results.json and checksums/ (ACRO layout) for an output "
                       "checker (SACRO-Viewer)")
    check.set_defaults(func=_cmd_check)

    report = sub.add_parser(
        "report",
        help="run the regional report for one, several or all regions in parallel",
        description="Run notebooks/regional_report.ipynb per region: HTML report, figures with "
        "their data, Excel tables and manifest.json under OUT/<region>/. Parameters are validated "
        "before any kernel starts; a failing region does not stop the others.",
    )
    report.add_argument("--regions", required=True, help="14 | 01,03,14 | all")
    report.add_argument("--data", required=True, help="folder with one bundle per region (DATA/<code>/)")
    report.add_argument("--out", required=True, help="output folder")
    report.add_argument("--jobs", type=int, default=1, help="parallel processes (<= cores)")
    report.add_argument("--synth", choices=["demo", "region", "scale"], default=None,
                        help="generate a synthetic world for regions without data")
    report.add_argument("--seed", type=int, default=0)
    report.add_argument("--language", choices=["sv", "en"], default="sv")
    report.add_argument("--min-count", type=int, default=5)
    report.add_argument("-p", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="further notebook parameter (converted to the type of the notebook's "
                        "default; text keeps leading zeros)")
    where = report.add_mutually_exclusive_group()
    where.add_argument("--cluster", metavar="tcp://HOST:PORT", default=None,
                       help="compute the per-person flags on this dask.distributed scheduler")
    where.add_argument("--local-cluster", type=int, metavar="N", default=None,
                       help="start a local Dask cluster of N workers per report (default: pandas)")
    report.set_defaults(func=_cmd_report)

    reproduce = sub.add_parser(
        "reproduce",
        help="re-create a paper's figures and compare their data with the recorded ones",
    )
    reproduce.add_argument("paper", help="papers/NAME")
    reproduce.add_argument("--work-dir", default=None, help="keep worlds and outputs here")
    reproduce.add_argument("--record", action="store_true", help="record the figures' data (authors)")
    reproduce.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except NaravardError as exc:
        print(f"naravard {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"naravard {args.command}: interrupted", file=sys.stderr)
        return 130
    except BaseException as exc:
        from naravard_analysis.report.batch import RunStopped

        if isinstance(exc, RunStopped):  # SIGTERM during `naravard report`
            print(f"naravard {args.command}: {exc}; the region in progress is marked FAILED",
                  file=sys.stderr)
            return 143
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

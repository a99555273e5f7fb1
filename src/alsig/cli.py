"""The ``alsig`` command: operator tools around the workflow.

``alsig check-config FILE`` is the pre-flight (:mod:`alsig.preflight`): it validates a config
and opens the sheets and files it names without running anything (one line per problem, naming
the key or file). ``alsig signatures`` lists the shipped signatures. ``alsig score`` scores new
samples against a finished dataset. ``alsig report --config FILE`` builds a run's report into its
output folder, refusing while ``snakemake --dry-run`` lists pending jobs. ``alsig discover`` lists the GEO series NCBI E-utilities
finds (read-only); ``alsig reprocess`` is the scheduled entry point (see README, "Scheduled
reprocessing"). Run the workflow itself with ``snakemake``.

Exit codes, the same for every subcommand: 0 ok, 1 the work failed, 2 bad usage or config,
3 the network (NCBI) could not be reached; ``reprocess`` also uses 75 (another run holds the
lock) and 128 + N (stopped by signal N: 143 SIGTERM, 130 SIGINT).

Each subcommand imports its application (:mod:`alsig.newsamples`, :mod:`alsig.ops`,
:mod:`alsig.signatures`) when it runs: they load anndata, polars and the HTTP machinery, which
``alsig --help`` and ``alsig check-config`` should not wait for.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import alsig
from alsig.errors import AlsigError, name_some

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NETWORK = 0, 1, 2, 3
DESCRIPTION = (
    "alsig: ALS RNA-seq treatment-resistance signatures. Operator tools around the Snakemake "
    "workflow (run the workflow itself with `snakemake`)."
)
EPILOG = (
    "Exit codes: 0 ok; 1 the work failed; 2 bad usage or config; 3 the network could not be "
    "reached; reprocess: 75 another run holds the lock, 128+N stopped by signal N."
)
API_KEY_HELP = (
    "NCBI API key. Prefer the environment variable NCBI_API_KEY: a key on the command line is "
    "visible to every user in `ps`."
)


def _api_key(args: argparse.Namespace) -> str | None:
    if args.api_key:
        print(
            "alsig: warning: --api-key is visible in `ps`; set NCBI_API_KEY instead",
            file=sys.stderr,
        )
    return args.api_key


def _score(args: argparse.Namespace) -> int:
    from alsig.newsamples import (
        MAX_MISSING_SHARE,
        read_new_samples,
        score_new_samples,
        write_placement,
    )
    from alsig.newsamples.output import STDOUT, output_format

    _logging(args.verbose)
    try:
        output_format(args.output)  # a wrong suffix is refused before any work
        for flag, path in (
            ("--counts", args.counts),
            ("--dataset", args.dataset),
            ("--te-counts", args.te_counts),
        ):
            if path is not None and not Path(path).exists():
                raise AlsigError(f"{flag} {path} does not exist.")
        new = read_new_samples(
            args.counts,
            gene_column=args.gene_column,
            id_type=args.gene_id_type,
            te_path=args.te_counts,
            rounding=args.counts_rounding,
        )
        table = score_new_samples(
            new.counts,
            args.dataset,
            stratum=args.stratum,
            label=args.label or Path(args.counts).name.split(".")[0],
            max_missing_share=(
                MAX_MISSING_SHARE if args.max_missing_share is None else args.max_missing_share
            ),
            gene_ids=new.gene_ids,
            region=args.region,
            source=args.counts,
            te_counts=new.te_counts,
        )
    except AlsigError as exc:
        print(f"alsig score: {exc}", file=sys.stderr)
        return EXIT_USAGE
    write_placement(table, args.output)
    where = "standard output" if args.output == STDOUT else args.output
    flags = table.unique("sample", keep="first", maintain_order=True).drop_nulls("qc_flag")
    print(
        f"alsig score: {where}: {table['sample'].n_unique()} sample(s) x "
        f"{table['signature'].n_unique()} signatures placed against "
        f"{table['reference_dataset'][0]} ({table['reference_stratum'][0]})"
        + "".join(f"; {s} flagged: {f}" for s, f in flags.select("sample", "qc_flag").iter_rows()),
        file=sys.stderr,
    )
    return EXIT_OK


def _signatures(args: argparse.Namespace) -> int:
    from alsig.signatures import signature_listing

    table = signature_listing()
    if args.format == "json":
        print(table.write_json())
    else:
        print(table.write_csv(separator="\t"), end="")
    return EXIT_OK


def _check_config(args: argparse.Namespace) -> int:
    from alsig.preflight import preflight
    from alsig.preflight.profile import (
        sinfo_default_partition,
        sinfo_node_cpus,
        slurm_cpu_warnings,
        slurm_partition_warnings,
    )

    path = Path(args.config)
    try:
        found = preflight(path, workdir=args.workdir)
    except Exception as exc:  # the pre-flight promises no traceback, whatever it meets
        print(
            f"{path}: check-config could not finish ({type(exc).__name__}: {exc}); "
            "please report this with the config",
            file=sys.stderr,
        )
        return EXIT_FAILED
    for note in found.notes:
        print(f"{path}: note: {note}")
    if args.profile:
        warnings = slurm_partition_warnings(Path(args.profile), os.environ, sinfo_default_partition)
        warnings += slurm_cpu_warnings(Path(args.profile), sinfo_node_cpus)
        for warning in warnings:
            print(f"{path}: warning: {warning}", file=sys.stderr)
    for problem in found.problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if not found.problems:
        print(f"{path}: OK ({found.n_datasets} dataset(s))")
    return EXIT_USAGE if found.problems else EXIT_OK


def pending_jobs(dry_run_output: str) -> list[str]:
    """Return the jobs a ``snakemake --dry-run`` would run, e.g. ``score_figures (dataset=demo)``.

    Parameters
    ----------
    dry_run_output
        What ``snakemake -n`` printed (stdout and stderr).

    Returns
    -------
    list of str
        One entry per job (the default target ``all`` left out); empty when nothing is to be done.
    """
    jobs = []
    rule = None
    for line in dry_run_output.splitlines():
        started = re.match(r"^\s*(?:local)?rule (\w+):$", line)
        if started:
            rule = started.group(1)
            if rule != "all":
                jobs.append(rule)
            continue
        wildcards = re.match(r"^\s+wildcards: (.+)$", line)
        if wildcards and rule not in (None, "all") and jobs and jobs[-1] == rule:
            jobs[-1] = f"{rule} ({wildcards.group(1)})"
    return jobs


def _report(args: argparse.Namespace) -> int:
    import subprocess

    import yaml

    from alsig.report.target import report_target
    from alsig.settings import RunSettings

    # both relative to the directory snakemake runs in, as snakemake reads them
    config_path = Path(args.workdir) / args.config
    snakefile = Path(args.workdir) / args.snakefile
    for flag, path in (("--config", config_path), ("--snakefile", snakefile)):
        if not path.is_file():
            print(f"alsig report: {flag} {path} does not exist", file=sys.stderr)
            return EXIT_USAGE
    try:
        run = RunSettings(yaml.safe_load(config_path.read_text()) or {})
    except (AlsigError, yaml.YAMLError) as exc:
        print(f"alsig report: {config_path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile.resolve()),
        "--configfile",
        str(config_path.resolve()),
    ]
    # outputs older than their inputs, or missing, would put last run's figures in the report
    dry = subprocess.run(
        [*command, "--dry-run"], cwd=args.workdir, capture_output=True, text=True, check=False
    )
    if dry.returncode != 0:
        print(
            f"alsig report: the dry run of {config_path} failed:\n{dry.stderr[-3000:]}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    pending = pending_jobs(dry.stdout + dry.stderr)
    if pending:
        shown = name_some(pending)
        what = "warning" if args.allow_stale else "error"
        print(
            f"alsig report: {what}: the outputs of {config_path} in '{run.output_dir}' are not up "
            f"to date: {len(pending)} job(s) pending: {shown}. Run `snakemake --configfile "
            f"{config_path} --cores all` first"
            + ("" if args.allow_stale else " (or build anyway with --allow-stale)."),
            file=sys.stderr,
        )
        if not args.allow_stale:
            return EXIT_FAILED
    out = (Path(args.workdir) / run.output_dir).resolve()  # snakemake runs in --workdir
    report = Path(args.output) if args.output else Path(report_target(out))
    made = subprocess.run(
        [*command, "--report", str(report)],
        cwd=args.workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        print(f"alsig report: snakemake --report failed:\n{made.stderr[-3000:]}", file=sys.stderr)
        return EXIT_FAILED
    print(f"alsig report: {Path(args.workdir) / report} ({len(run.datasets)} dataset(s))")
    return EXIT_OK


def _logging(verbose: bool) -> None:
    import logging

    from alsig.runner import LOG_FORMAT, ReadableFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ReadableFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])


def _unexpected(command: str, exc: Exception) -> int:
    """One line for an error alsig did not foresee (the traceback only with ``-v``)."""
    import logging

    from alsig.ops.unexpected import unexpected_error

    logging.getLogger("alsig.cli").debug("%s failed", command, exc_info=exc)
    print(f"alsig {command}: {unexpected_error(exc, None)}", file=sys.stderr)
    return EXIT_FAILED


def _discover(args: argparse.Namespace) -> int:
    import json

    from alsig.ops import discover_only
    from alsig.sources.eutils import EUtilsError

    _logging(args.verbose)
    try:
        rows = discover_only(args.config, api_key=_api_key(args), workdir=args.workdir)
    except EUtilsError as exc:  # NCBI unreachable or its answer unusable
        print(f"alsig discover: discovery failed: {exc}", file=sys.stderr)
        return EXIT_NETWORK
    except AlsigError as exc:  # the config or the registry
        print(f"alsig discover: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        return _unexpected("discover", exc)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("accession\tn_samples\tpdat\tregistry\ttitle")
        for row in rows:
            print(
                "\t".join(
                    str(row[k]) for k in ("accession", "n_samples", "pdat", "registry", "title")
                )
            )
    return EXIT_OK


def _reprocess(args: argparse.Namespace) -> int:
    from alsig.ops import Options, reprocess

    _logging(args.verbose)
    options = Options(
        config=Path(args.config),
        workdir=Path(args.workdir),
        api_key=_api_key(args),
        lock_timeout=args.lock_timeout,
        targets=args.target or None,
        cores=args.cores,
        snakemake_args=args.snakemake_args or [],
        force=args.force or [],
    )
    if args.snakefile:
        options.snakefile = Path(args.snakefile)
    try:
        return reprocess(options)
    except AlsigError as exc:  # before the run could record it (e.g. an unwritable state_dir)
        print(f"alsig reprocess: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        return _unexpected("reprocess", exc)


def _add_check_config(commands) -> None:
    check = commands.add_parser(
        "check-config",
        help="pre-flight: validate a config and the sample sheets, columns, contrasts and files "
        "it names",
    )
    check.add_argument("config")
    check.add_argument("--workdir", default=".", help="directory relative paths are resolved from")
    check.add_argument(
        "--profile",
        help="the Snakemake profile the run will use: a Slurm profile is checked for a partition "
        "(e.g. --profile workflow/profiles/slurm)",
    )
    check.set_defaults(func=_check_config)


def _add_signatures(commands) -> None:
    listing = commands.add_parser(
        "signatures", help="list the shipped signatures: axis, genes, sources, version"
    )
    listing.add_argument("--format", choices=["tsv", "json"], default="tsv")
    listing.set_defaults(func=_signatures)


def _add_score(commands) -> None:
    score = commands.add_parser(
        "score",
        help="score new samples against a finished dataset (its normalisation, signatures and "
        "control distribution) without rerunning the cohort",
    )
    score.add_argument(
        "--dataset",
        required=True,
        help="<output_dir>/<dataset> of a finished run, e.g. results/demo",
    )
    score.add_argument("--counts", required=True, help="genes x samples counts (TSV/CSV/.h5ad)")
    score.add_argument(
        "--output",
        required=True,
        help="a .parquet or .tsv file (the format follows the suffix), or '-' for TSV on "
        "standard output",
    )
    score.add_argument("--gene-column", help="gene id column (default: the first)")
    score.add_argument(
        "--gene-id-type", default="auto", choices=["auto", "symbol", "entrez", "ensembl"]
    )
    score.add_argument(
        "--counts-rounding",
        default="none",
        choices=["none", "round"],
        help="'round' rounds estimated counts (salmon, RSEM expected_count) to integers and "
        "says how many (default 'none': a fraction is an error), as a dataset's counts_rounding",
    )
    score.add_argument(
        "--stratum", help="reference stratum when the dataset's controls are stratified"
    )
    score.add_argument(
        "--label",
        help="the new rows' dataset column (default: the counts file's name without suffixes)",
    )
    score.add_argument(
        "--max-missing-share",
        type=float,
        help="refuse when a larger share of the dataset's genes is absent from the counts "
        "(default 0.5, alsig.newsamples.MAX_MISSING_SHARE); below it, the new and the "
        "dataset's samples are scored within the shared genes and every row is flagged",
    )
    score.add_argument(
        "--region", help="the samples' region for the subtype call (default: the stratum's)"
    )
    score.add_argument(
        "--te-counts",
        help="TEcount table of the same samples (TSV/CSV[.gz]): the subtype call then uses the "
        "genes + TE model, as the workflow does for a dataset with te_counts",
    )
    score.add_argument("-v", "--verbose", action="store_true")
    score.set_defaults(func=_score)


def _add_report(commands) -> None:
    rep = commands.add_parser(
        "report",
        help="build a run's HTML report into its own output folder, after checking (snakemake "
        "--dry-run) that its outputs are up to date",
    )
    rep.add_argument(
        "--config", required=True, help="the run's config (its output_dir), relative to --workdir"
    )
    rep.add_argument("--workdir", default=".", help="directory snakemake runs in")
    rep.add_argument(
        "--snakefile",
        default="workflow/Snakefile",
        help="relative to --workdir (default: %(default)s)",
    )
    rep.add_argument(
        "--output",
        help="report file (default: <output_dir>/report.html, or report.zip when the single "
        "page would exceed 25 MB: alsig.report.target)",
    )
    rep.add_argument(
        "--allow-stale",
        action="store_true",
        help="build even when jobs are pending (they are listed as a warning)",
    )
    rep.set_defaults(func=_report)


def _add_discover(commands) -> None:
    discover = commands.add_parser(
        "discover",
        help="list ALS RNA-seq series on GEO (NCBI E-utilities); changes nothing",
        description="Exit codes: 0 ok; 2 bad config or registry; 3 discovery failed (NCBI "
        "unreachable or its answer malformed).",
    )
    discover.add_argument("--config", default="config/reprocess.yaml", help="base config")
    discover.add_argument("--workdir", default=".", help="project directory (registry lives here)")
    discover.add_argument("--api-key", help=API_KEY_HELP)
    discover.add_argument("--json", action="store_true", help="JSON instead of TSV")
    discover.add_argument("-v", "--verbose", action="store_true")
    discover.set_defaults(func=_discover)


def _add_reprocess(commands) -> None:
    rep = commands.add_parser(
        "reprocess",
        help="discover -> update registry -> run the DAG for new/changed series (cron/scrontab)",
        description="Exit codes: 0 ok or nothing to do; 1 a dataset (or the catalog) failed; "
        "2 bad config, registry or --force; 3 discovery failed (registry unchanged); 75 another "
        "run holds the lock; 128+N stopped by signal N (143 SIGTERM, 130 SIGINT).",
    )
    rep.add_argument("--config", default="config/reprocess.yaml", help="base config")
    rep.add_argument("--workdir", default=".", help="project directory (results/ lives here)")
    rep.add_argument("--snakefile", help="default: this checkout's Snakefile")
    rep.add_argument("--api-key", help=API_KEY_HELP)
    rep.add_argument(
        "--lock-timeout",
        type=float,
        help="seconds to wait for a running reprocess (default: reprocess.lock_timeout_seconds)",
    )
    rep.add_argument(
        "--target",
        action="append",
        help="snakemake target instead of the default target; '{dataset}' expands per dataset "
        "(repeatable)",
    )
    rep.add_argument("--cores", type=int, help="snakemake --cores (default: reprocess.cores)")
    rep.add_argument(
        "--force",
        action="append",
        metavar="GSE",
        help="reprocess this series, one the registry tracks and does not exclude (repeatable)",
    )
    rep.add_argument(
        "--snakemake-args",
        nargs=argparse.REMAINDER,
        help="everything after this goes to snakemake (e.g. --profile workflow/profiles/slurm)",
    )
    rep.add_argument("-v", "--verbose", action="store_true")
    rep.set_defaults(func=_reprocess)


def parser() -> argparse.ArgumentParser:
    """Return the ``alsig`` command line: one subcommand per task."""
    root = argparse.ArgumentParser(prog="alsig", description=DESCRIPTION, epilog=EPILOG)
    root.add_argument("--version", action="version", version=f"alsig {alsig.__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    for add in (
        _add_check_config,
        _add_signatures,
        _add_score,
        _add_report,
        _add_discover,
        _add_reprocess,
    ):
        add(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    """Run the ``alsig`` command with ``argv`` (the process's arguments when ``None``)."""
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

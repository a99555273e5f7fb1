"""The ``alsig`` command: operator tools around the workflow.

``alsig check-config FILE`` validates a config without running anything (one line per problem,
naming the key). Run the workflow itself with ``snakemake`` (see README).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

import alsig
from alsig.config import check_config, schema_errors
from alsig.errors import AlsigError

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def _check_config(args: argparse.Namespace) -> int:
    path = Path(args.config)
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        print(f"alsig: cannot read config '{path}': {exc}", file=sys.stderr)
        return 2
    problems = schema_errors(config or {}, SCHEMA)
    if not problems:
        try:
            check_config(config, workdir=args.workdir)
        except AlsigError as exc:
            problems = [str(exc)]
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{path}: OK ({len(config['datasets'])} dataset(s))")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alsig", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"alsig {alsig.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check-config", help="validate a config file")
    check.add_argument("config")
    check.add_argument("--workdir", default=".", help="directory relative paths are resolved from")
    check.set_defaults(func=_check_config)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

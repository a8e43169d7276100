"""``pose-perception`` command line: run, bag, export, models, download, bench.

One module per command (``run``, ``bag``, ``export``, ``models`` with ``download``, ``bench``);
what they share is in :mod:`pose_perception.cli.common`. This module assembles the parser and
holds ``main``.

User mistakes (bad paths, configs, boxes, unavailable models, mismatched checkpoints)
end with one ``pose-perception: error: ...`` line and exit code 2, never a traceback;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pose_perception import __version__
from pose_perception.cli import bag, bench, export, models, run
from pose_perception.cli.common import EXIT_USER_ERROR, PROG, USER_ERRORS, Parser, error_message


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pose-perception`` console script and ``python -m pose_perception``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(format=f"{PROG}: %(levelname)s: %(message)s", level=logging.WARNING)
    try:
        if argv[:1] == ["bench"]:  # before argparse, so `bench --help` reaches the benchmark's parser
            return bench.bench_command(argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except SystemExit as exit_:  # --help, --version, or a delegated main calling sys.exit
        return _exit_code(exit_.code)
    except USER_ERRORS as err:
        print(f"{PROG}: error: {error_message(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _exit_code(code: object) -> int:
    if code is None or isinstance(code, int):
        return int(code or 0)
    print(code, file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="Real-time RTMPose human pose estimation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_command(commands)
    bag.add_command(commands)
    export.add_command(commands)
    models.add_commands(commands)
    bench.add_command(commands)
    return parser

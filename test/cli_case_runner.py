"""Runs many ``pose-perception`` command lines in one process, for the hostile-input tests.

Started by ``test_input_fuzz.py`` as ``python cli_case_runner.py CASES.json RESULTS.json`` in a
subprocess with a memory limit and a timeout, so one case that crashes, hangs or eats memory
fails the test instead of the machine. Each case's exit code, stderr and any exception that
escaped ``cli.main`` (a traceback the user would see) go to RESULTS.json; the case about to run
is written to stderr first, so a crash or a hang names it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import logging
import sys
import time
import traceback


class _CurrentStderr(io.TextIOBase):
    """Log records go wherever ``sys.stderr`` points now (one buffer per case)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)


def run_case(argv: list[str]) -> dict[str, object]:
    from pose_perception import cli

    buffer = io.StringIO()
    start = time.monotonic()
    result: dict[str, object] = {"argv": argv}
    with contextlib.redirect_stderr(buffer), contextlib.redirect_stdout(io.StringIO()):
        try:
            result["rc"] = cli.main(argv)
        except BaseException:  # what escapes main is the finding
            result["rc"] = None
            result["escaped"] = traceback.format_exc()
    result["stderr"] = buffer.getvalue()
    result["seconds"] = time.monotonic() - start
    return result


def main() -> None:
    faulthandler.enable()  # before any redirection: a segfault prints where it happened
    logging.basicConfig(stream=_CurrentStderr(), format="pose-perception: %(levelname)s: %(message)s")
    with open(sys.argv[1], encoding="utf-8") as file:
        cases = json.load(file)
    results = []
    for index, argv in enumerate(cases):
        print(f"case {index}: {argv}", file=sys.__stderr__, flush=True)
        results.append(run_case(argv))
    with open(sys.argv[2], "w", encoding="utf-8") as file:
        json.dump(results, file)


if __name__ == "__main__":
    main()

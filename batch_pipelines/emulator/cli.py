"""`batch-pipelines emulator ...`: argument wiring for the project's CLI and `python -m`."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from pathlib import Path

from .config import EmulatorConfig


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected a number between 0 and 1, got {value!r}"
        ) from exc
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value!r}")
    return rate


def _non_negative(kind: type) -> object:
    def parse(value: str) -> float | int:
        try:
            number = kind(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"expected a non-negative number, got {value!r}"
            ) from exc
        if number < 0:
            raise argparse.ArgumentTypeError(f"expected a non-negative number, got {value!r}")
        return number

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's flags to `parser` (used by `batch-pipelines emulator`)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8089, help="port to listen on (default 8089)")
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="state directory (default $BATCH_PIPELINES_HOME/emulator, i.e. ./.batch_pipelines/emulator)",
    )
    parser.add_argument(
        "--complete-after",
        type=_non_negative(float),
        default=0.0,
        metavar="SECONDS",
        help="how long a batch takes from create to its terminal state (0: done by the first retrieve)",
    )
    parser.add_argument(
        "--line-error-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of lines that fail with a provider error",
    )
    parser.add_argument(
        "--malformed-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of successful lines whose content is not valid against the requested schema",
    )
    parser.add_argument(
        "--expire-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of batches that expire with partial results",
    )
    parser.add_argument(
        "--fail-validation-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of creates that fail validation (OpenAI: batch failed; Anthropic: 400)",
    )
    parser.add_argument(
        "--rate-limit-create",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="the first N batch creates per provider answer 429 with retry-after: 1",
    )
    parser.add_argument(
        "--server-errors-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of batch retrieves that answer 500",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed for every fault decision"
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        complete_after=args.complete_after,
        line_error_rate=args.line_error_rate,
        malformed_rate=args.malformed_rate,
        expire_rate=args.expire_rate,
        fail_validation_rate=args.fail_validation_rate,
        rate_limit_create=args.rate_limit_create,
        server_errors_rate=args.server_errors_rate,
        seed=args.seed,
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Serve until interrupted with the flags parsed by `add_arguments`; returns an exit code."""
    from .server import serve

    with contextlib.suppress(KeyboardInterrupt):
        serve(host=args.host, port=args.port, home=args.home, config=config_from_args(args))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m batch_pipelines.emulator",
        description="Offline emulator of the OpenAI Batch and Anthropic Message Batches APIs.",
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))

"""`batch-pipelines emulator ...`: argument wiring for the project's CLI and `python -m`."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from .config import EmulatorConfig, parse_token_limits


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


def _token_limit(value: str) -> tuple[str, int]:
    try:
        ((model, tokens),) = parse_token_limits([value]).items()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return model, tokens


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
        help="share of OpenAI batches that fail as a whole (token_limit_exceeded); "
        "no effect on Anthropic, which has no failed state",
    )
    parser.add_argument(
        "--invalid-request-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of lines rejected as invalid when the batch runs (OpenAI: 400 error-file "
        "line; Anthropic: errored invalid_request_error)",
    )
    parser.add_argument(
        "--timeout-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of OpenAI lines that end as request_timeout",
    )
    parser.add_argument(
        "--ordered-results",
        action="store_true",
        help="results in input order (debugging only: the services do not guarantee an order)",
    )
    parser.add_argument(
        "--enqueued-token-limit",
        action="append",
        default=[],
        type=_token_limit,
        metavar="MODEL=TOKENS",
        help="OpenAI enqueued-token limit of MODEL (as requests name it); repeatable; off unless given",
    )
    parser.add_argument(
        "--anthropic-queue-limit",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="at most N requests of unfinished Message Batches; a create past it answers 429 (0: off)",
    )
    parser.add_argument(
        "--rate-limit-create",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="the first N batch creates per provider answer 429 with retry-after (--retry-after)",
    )
    parser.add_argument(
        "--retry-after",
        type=_non_negative(float),
        default=1.0,
        metavar="S",
        help="seconds the 429s of --rate-limit-create and the queue limit ask to wait (default 1)",
    )
    parser.add_argument(
        "--overloaded-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of Anthropic batch creates that answer 529 overloaded_error",
    )
    parser.add_argument(
        "--lose-create-response-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of batch creates that create the batch but answer 502 (the answer is lost)",
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
    # Every flag is named after its config field (`--enqueued-token-limit` -> enqueued_token_limit).
    values = {f.name: getattr(args, f.name) for f in fields(EmulatorConfig)}
    values["enqueued_token_limit"] = dict(args.enqueued_token_limit)
    return EmulatorConfig(**values)


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

"""`batch-pipelines emulator` flags: add_arguments / run_from_args."""

from __future__ import annotations

import argparse

import pytest

from batch_pipelines.emulator import EmulatorConfig, cli


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_every_flag_maps_onto_the_emulator_config():
    args = _parse(
        "--host",
        "0.0.0.0",
        "--port",
        "9000",
        "--complete-after",
        "30",
        "--line-error-rate",
        "0.1",
        "--malformed-rate",
        "0.2",
        "--expire-rate",
        "0.3",
        "--fail-validation-rate",
        "0.4",
        "--rate-limit-create",
        "5",
        "--server-errors-rate",
        "0.05",
        "--seed",
        "7",
        "--invalid-request-rate",
        "0.01",
        "--timeout-rate",
        "0.02",
        "--ordered-results",
        "--enqueued-token-limit",
        "gpt-4o-mini=2000000",
        "--enqueued-token-limit",
        "gpt-4.1=90000",
        "--anthropic-queue-limit",
        "100000",
        "--lose-create-response-rate",
        "0.03",
        "--retry-after",
        "120",
        "--overloaded-rate",
        "0.04",
    )
    assert (args.host, args.port) == ("0.0.0.0", 9000)
    assert cli.config_from_args(args) == EmulatorConfig(
        complete_after=30,
        line_error_rate=0.1,
        malformed_rate=0.2,
        expire_rate=0.3,
        fail_validation_rate=0.4,
        rate_limit_create=5,
        server_errors_rate=0.05,
        seed=7,
        invalid_request_rate=0.01,
        timeout_rate=0.02,
        ordered_results=True,
        enqueued_token_limit={"gpt-4o-mini": 2_000_000, "gpt-4.1": 90_000},
        anthropic_queue_limit=100_000,
        lose_create_response_rate=0.03,
        retry_after=120,
        overloaded_rate=0.04,
    )


def test_defaults_serve_on_8089_with_no_faults():
    args = _parse()
    assert (args.host, args.port, args.home) == ("127.0.0.1", 8089, None)
    assert cli.config_from_args(args) == EmulatorConfig()


@pytest.mark.parametrize(
    "argv",
    [
        ["--line-error-rate", "1.5"],
        ["--complete-after", "-1"],
        ["--seed", "x"],
        ["--enqueued-token-limit", "gpt-4o-mini"],
        ["--retry-after", "-3"],
    ],
)
def test_out_of_range_flags_are_rejected(argv):
    with pytest.raises(SystemExit):
        _parse(*argv)


def test_run_from_args_serves_with_the_parsed_flags(monkeypatch, tmp_path):
    calls = {}
    monkeypatch.setattr("batch_pipelines.emulator.server.serve", lambda **kw: calls.update(kw))
    args = _parse("--port", "0", "--home", str(tmp_path), "--seed", "3")
    assert cli.run_from_args(args) == 0
    assert calls["port"] == 0 and calls["home"] == tmp_path and calls["config"].seed == 3

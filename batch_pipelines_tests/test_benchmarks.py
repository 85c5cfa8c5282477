"""The benchmarks' own pieces that run no benchmark: they must keep up with the code they measure.

A full `make bench` takes most of an hour, so a renamed method it calls would otherwise surface
only there (it did: the day and savings benchmarks once called a private render method that had
changed its signature)."""

from __future__ import annotations

import importlib

import pytest

from batch_pipelines.batching.workflow import Rendered, WorkItem
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.providers.openai_batch import OpenAIBatchProvider
from batch_pipelines.workflows.post_call import PostCallAnalytics
from benchmarks import data
from benchmarks.run import NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_benchmark_module_imports_and_has_a_runner(name: str) -> None:
    module = importlib.import_module(f"benchmarks.bench_{name}")
    assert callable(module.run)


@pytest.mark.parametrize("prompt_tokens", [2_000, 8_000])
def test_transcript_size_probe_makes_requests_of_the_asked_token_count(prompt_tokens: int) -> None:
    workflow = PostCallAnalytics()
    size = data.transcript_bytes_for(workflow, prompt_tokens)
    tenant = TenantContext("t", "A Typical Business Name Ltd", "sales", "growth", {}, {})
    # A plain transcript nothing is cleaned or redacted from, cut to the probe's size.
    transcript = ("Caller: I would like to book a visit next week please.\n" * 2_000)[:size]
    outcome = workflow.render_one(WorkItem("c", "t", data.DAY), ("t", transcript), {"t": tenant})
    assert isinstance(outcome, Rendered)
    line = OpenAIBatchProvider(client_factory=lambda: None).encode_line(
        "x" * 45, workflow.model, workflow.endpoint, outcome.prompt
    )
    # The emulator counts 4 bytes a token; within 2 % of the asked size.
    assert abs(len(line) / 4 - prompt_tokens) <= prompt_tokens * 0.02

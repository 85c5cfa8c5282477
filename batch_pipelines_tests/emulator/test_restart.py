"""State survives a restart: a new server on the same home sees files, batches and results."""

from __future__ import annotations

from batch_pipelines.emulator import EmulatorConfig, EmulatorServer, received_requests

from .conftest import (
    anthropic_client,
    chat_lines,
    message_request,
    openai_client,
    read_lines,
    submit,
)


def test_a_new_server_on_the_same_home_continues_where_the_old_one_stopped(tmp_path):
    home = tmp_path / "emulator"
    with EmulatorServer(home=home, config=EmulatorConfig(complete_after=100)) as first:
        oai, claude = openai_client(first), anthropic_client(first)
        finished = submit(oai, chat_lines(3))
        running = submit(oai, chat_lines(4))
        message_batch = claude.messages.batches.create(requests=[message_request("r1")])
        first.advance(101)
        done = oai.batches.retrieve(finished.id)
        assert done.status == "completed"
        output = read_lines(oai, done.output_file_id)
        slow = EmulatorConfig(complete_after=1000)
        first.set_config(**slow.to_dict())
        later = submit(oai, chat_lines(2))

    with EmulatorServer(home=home) as second:
        oai, claude = openai_client(second), anthropic_client(second)
        again = oai.batches.retrieve(finished.id)
        assert again.status == "completed" and again.output_file_id == done.output_file_id
        assert read_lines(oai, again.output_file_id) == output
        assert oai.batches.retrieve(running.id).status == "completed"
        assert oai.batches.retrieve(later.id).status == "validating"  # keeps its complete_after
        second.advance(500)
        assert oai.batches.retrieve(later.id).status == "in_progress"
        second.advance(501)
        assert oai.batches.retrieve(later.id).status == "completed"
        assert {b.id for b in oai.batches.list()} == {finished.id, running.id, later.id}
        assert len(oai.files.list().data) == 3 + 3  # three inputs, three outputs
        ended = claude.messages.batches.retrieve(message_batch.id)
        assert ended.results_url.startswith(second.url)
        assert [r.custom_id for r in claude.messages.batches.results(message_batch.id)] == ["r1"]

    received = list(received_requests(home))
    assert [r.custom_id for r in received if r.provider == "openai"] == [
        *(f"req-{i}" for i in range(3)),
        *(f"req-{i}" for i in range(4)),
        *(f"req-{i}" for i in range(2)),
    ]
    assert [r.custom_id for r in received if r.provider == "anthropic"] == ["r1"]
    assert received[0].body == chat_lines(1)[0]["body"]

"""Offline emulator of the OpenAI Batch (Files + Batches) and Anthropic Message Batches APIs.

No Dagster, no database: a Starlette app over a state model kept in a directory.

    from batch_pipelines.emulator import EmulatorServer, EmulatorConfig, received_requests

    with EmulatorServer(home=tmp_path, config=EmulatorConfig(complete_after=0)) as emu:
        openai.OpenAI(base_url=emu.openai_base_url, api_key="test")
        anthropic.Anthropic(base_url=emu.anthropic_base_url, api_key="test")
        emu.set_config(line_error_rate=0.1)      # or POST /_emulator/config
        emu.received_requests()                  # every request body that reached it
"""

from .config import EmulatorConfig, default_home
from .server import EmulatorServer, serve
from .state import EmulatorState, ReceivedRequest, received_requests

__all__ = [
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "ReceivedRequest",
    "default_home",
    "received_requests",
    "serve",
]

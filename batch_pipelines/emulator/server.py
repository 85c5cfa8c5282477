"""Run the emulator: in-process on a free port (`EmulatorServer`) or blocking (`serve`)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .config import EmulatorConfig, default_home
from .state import EmulatorState, ReceivedRequest


class EmulatorServer:
    """The emulator in a background thread of this process.

        with EmulatorServer(home=tmp_path) as emu:
            client = openai.OpenAI(base_url=emu.openai_base_url, api_key="test")
            anthropic.Anthropic(base_url=emu.anthropic_base_url, api_key="test")

    `home` is the emulator's own state directory (default `$BATCH_PIPELINES_HOME/emulator`).
    `port=0` picks a free port. A new server on the same home sees the previous one's state.
    """

    def __init__(
        self,
        home: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
    ) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.host = host
        self._requested_port = port
        self._config = config or EmulatorConfig()
        self.state: EmulatorState | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None

    # -- lifecycle

    def start(self) -> EmulatorServer:
        if self._thread is not None:
            return self
        self.state = EmulatorState(self.home, self._config)
        sock = socket.socket(
            socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM
        )
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(2048)
        sock.set_inheritable(True)
        self._socket = sock
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="batch-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._socket is not None:
            self._socket.close()
        if self.state is not None:
            self._config = self.state.config
            self.state.close()
        self._server = self._thread = self._socket = None
        self.state = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- run-time control

    @property
    def config(self) -> EmulatorConfig:
        return self.state.config if self.state is not None else self._config

    def set_config(self, **flags: Any) -> EmulatorConfig:
        if self.state is None:
            self._config = self._config.replace(**flags)
            return self._config
        return self.state.set_config(**flags)

    def advance(self, seconds: float) -> float:
        """Move the emulator's clock forward by `seconds` (persisted in its home)."""
        return self._require_state().advance(seconds)

    def received_requests(self, provider: str | None = None) -> list[ReceivedRequest]:
        return list(self._require_state().received_requests(provider))

    def _require_state(self) -> EmulatorState:
        if self.state is None:
            raise RuntimeError("the emulator is not running")
        return self.state


def serve(
    host: str = "127.0.0.1",
    port: int = 8089,
    home: Path | str | None = None,
    config: EmulatorConfig | None = None,
) -> None:
    """Serve the emulator in the foreground until interrupted (the CLI's entry point)."""
    state = EmulatorState(home, config)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"batch-pipelines emulator on http://{shown}:{port}\n"
        f"  OPENAI_BASE_URL=http://{shown}:{port}/v1\n"
        f"  ANTHROPIC_BASE_URL=http://{shown}:{port}\n"
        f"  state: {state.home}\n"
        f"  flags: {state.config.to_dict()}",
        flush=True,
    )
    try:
        uvicorn.run(
            create_app(state),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            backlog=2048,
        )
    finally:
        state.close()

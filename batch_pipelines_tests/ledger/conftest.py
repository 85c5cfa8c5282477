"""Ledger tests never open network connections (pricing must never fetch prices). Pricing and usage
tests are pure Python; the ledger, budget, report and RLS tests use the `engine` fixture's database
through libpq, which this guard does not touch."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="module")
def _no_network() -> Iterator[None]:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the ledger must not open network connections")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "create_connection", refuse)
        yield

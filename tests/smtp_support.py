"""A real SMTP server on loopback for tests (aiosmtpd): records what it accepts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


class RecordingHandler:
    """Keeps every accepted envelope; answers RCPT for the addresses in `refuse` with the given
    reply instead of accepting them."""

    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.refuse = refuse or {}
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class LoopbackController(Controller):
    """Listens on port 0 and learns the port the kernel chose, so parallel runs never collide.
    `_trigger_server` is the first hook after the socket is bound (aiosmtpd 1.4, pinned)."""

    def __init__(self, *args: Any, server_class: type[SMTP] = SMTP, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server_class = server_class

    def factory(self) -> SMTP:
        return self.server_class(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextmanager
def smtp_server(
    handler: RecordingHandler, server_class: type[SMTP] = SMTP, **smtp_options: Any
) -> Iterator[int]:
    """A running SMTP server on 127.0.0.1; yields its port and stops it afterwards."""
    controller = LoopbackController(
        handler, hostname=HOST, port=0, server_class=server_class, **smtp_options
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()

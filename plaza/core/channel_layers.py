"""The channel layer of the embedded default: Channels' in-memory layer, made cheap per event.

Channels' InMemoryChannelLayer sweeps every channel and group for expired entries on each
`group_send` and each `receive`. With a thousand WebSockets open, every one of them waiting in
`receive`, that sweep cost 1.2 ms per event and more than all REST views together (measured
with bench/ws.py and py-spy). Here it runs at most once a second: an expired message or
membership lingers a second longer, and nothing else changes.

Group memberships also never expire by age here (Channels' default drops them after a day,
which silently deafened WebSockets open longer than that). In one process a closing consumer
always leaves its groups; one that died without leaving is swept out with its expired messages.
"""

import time
from typing import Any

from channels.layers import InMemoryChannelLayer

SWEEP_INTERVAL_SECONDS = 1.0
NEVER = 100 * 365 * 86400  # seconds: group memberships end when their consumer leaves


class LocalChannelLayer(InMemoryChannelLayer):
    def __init__(self, group_expiry: int = NEVER, **kwargs: Any) -> None:
        super().__init__(group_expiry=group_expiry, **kwargs)
        self._swept_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < SWEEP_INTERVAL_SECONDS:
            return
        self._swept_at = now
        super()._clean_expired()

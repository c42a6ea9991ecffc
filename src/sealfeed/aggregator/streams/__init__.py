"""WebSocket quotes from the six streaming sources (design §3.3.2, issue 6).

:class:`StreamManager` keeps one self-healing connection loop per source (more when an
exchange's per-connection subscription limit requires), follows the tracked pair set given
by :meth:`StreamManager.set_pairs`, and delivers every price to a :class:`QuoteSink` as the
exchange's own decimal string with the exchange's event time. See ``docs/streams.md``.
"""

from .base import Exchange, StreamProtocolError
from .manager import EXCHANGES, QuoteSink, StreamManager, venue_mismatch
from .policy import backoff_delay

__all__ = [
    "EXCHANGES",
    "Exchange",
    "QuoteSink",
    "StreamManager",
    "StreamProtocolError",
    "backoff_delay",
    "venue_mismatch",
]

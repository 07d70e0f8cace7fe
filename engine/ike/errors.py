"""Typed IKE errors (aioquic style: an error carries its wire meaning).

Every error raised while handling a datagram is an ``IkeError``; the engine
catches it in one place and turns it into a Notify (when the peer should
hear about it) plus an IOS-style log line.
"""

from __future__ import annotations

from .registry import NotifyType


class IkeError(Exception):
    """An IKE protocol error.

    Args:
        reason: human readable, names what is wrong and where.
        notify: the Notify message type to send back, or None to stay silent.
    """

    def __init__(self, reason: str, notify: NotifyType | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.notify = notify


class MalformedMessage(IkeError):
    """A datagram that cannot be parsed (RFC 2408 §5: PAYLOAD-MALFORMED)."""

    def __init__(self, reason: str, notify: NotifyType | None = NotifyType.PAYLOAD_MALFORMED):
        super().__init__(reason, notify)


class AuthenticationFailed(IkeError):
    """HASH_I/HASH_R or a Quick Mode/Informational hash did not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, NotifyType.INVALID_HASH_INFORMATION)


class NoProposalChosen(IkeError):
    """None of the offered proposals is acceptable (RFC 2408 §3.14.1)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, NotifyType.NO_PROPOSAL_CHOSEN)

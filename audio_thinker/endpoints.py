"""What the callers of OpenAI-compatible servers (the judge, ``swift_plugins.judge``; the CoT generator,
``data_prep.cot``) share without importing the ``openai`` SDK they both talk through: reading a reply, naming
a failed connection, and the TLS context of their clients.
"""
from __future__ import annotations

import functools
import ssl


def reply_text(completion: object) -> str | None:
    """``choices[0].message.content``, or None when ``completion`` is not a chat completion with a text reply.

    The SDK builds its objects from whatever JSON a server sends without validating it: a 2xx body that is
    not a chat completion comes back as a plain ``str``/``list``, or as a ``ChatCompletion`` with missing or
    odd fields, and must not pass for a reply."""
    try:
        content = completion.choices[0].message.content  # type: ignore[attr-defined]
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    return content if isinstance(content, str) else None


def connection_error(err: BaseException) -> str:
    """``connection error: WHAT`` for a request whose connection failed (``err`` as the HTTP client raised
    it): ``refused`` or ``reset by the server`` when an ``OSError`` down its chain of causes says so, else
    the words of the deepest cause that has any (``Server disconnected without sending a response.``)."""
    known = {ConnectionRefusedError: "refused", ConnectionResetError: "reset by the server"}
    words, cause = str(err), err
    while cause is not None:
        what = next((text for kind, text in known.items() if isinstance(cause, kind)), None)
        if what:
            return f"connection error: {what}"
        words = str(cause) or words
        cause = cause.__cause__ or cause.__context__
    return f"connection error: {words}"[:300]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS context for ``https`` endpoints: the system's trusted certificates
    (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` override them). Made once: the judge opens a new client every
    training step (ms-swift runs each step's rewards in a new event loop), and the SDK's HTTP client would
    otherwise load its certificate bundle again each time (about 0.1 s of CPU per step and rank)."""
    return ssl.create_default_context()

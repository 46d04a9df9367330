"""Keep phone numbers, PINs and channel secrets out of logs.

:func:`redact` masks, in any text: Indonesian mobile numbers in their usual forms
(``08..``, ``62 8..``, ``+62 8..``, with spaces or dashes) and any ``+<8-15 digits>``
number; ``pin``/``password``/``token`` values (``pin=123456``, ``"pin": "123456"``);
credentials in URLs (``scheme://user:pass@host``); and any string registered with
:func:`add_secret` (Apprise URLs carry bot tokens and phone numbers in their path).

:func:`install_log_redaction` applies it to every log record of the process, whichever
handler writes it (the record factory rewrites the message and pre-formats exceptions),
so a third-party library (Apprise logs the URLs it posts to) cannot leak either. The
notification sender installs it at start; ``tests/cloud/test_notify_redaction.py``
captures logs to check.

>>> redact("send to +62 812-3456-7890 pin=123456")
'send to [phone] pin=[redacted]'
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

PHONE_MASK = "[phone]"
SECRET_MASK = "[redacted]"  # noqa: S105 (the mask, not a secret)

#: Indonesian mobile numbers in any common form, and any other "+<8-15 digits>" number
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|\b)62|\b0)[\s\-.]?(?:\(0\)[\s\-.]?)?8(?:[\s\-.]?\d){7,11}(?!\d)"
    r"|\+\d(?:[\s\-.]?\d){7,14}(?!\d)"
)
_KEYED = re.compile(
    r"(?i)(\"?\b(?:pin|password|passwd|secret|token|access_token)\b\"?\s*[:=]\s*\"?)([^\s\",&}]+)"
)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@]+@")

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def add_secret(value: str) -> None:
    """Mask ``value`` wherever it appears in a log line (e.g. a configured Apprise URL)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with secrets, credentials, PIN values and phone numbers masked."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, SECRET_MASK)
    text = _URL_CREDENTIALS.sub(r"\1" + SECRET_MASK + "@", text)
    text = _KEYED.sub(r"\1" + SECRET_MASK, text)
    return _PHONE.sub(PHONE_MASK, text)


def install_log_redaction() -> Callable[[], None]:
    """Redact every log record made from now on in this process (idempotent).

    Returns a function that removes it again (for tests).
    """
    global _installed
    with _lock:
        if _installed:
            return lambda: None
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the template, drop the arguments
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    def uninstall() -> None:
        global _installed
        logging.setLogRecordFactory(previous)
        with _lock:
            _installed = False

    logging.setLogRecordFactory(factory)
    return uninstall

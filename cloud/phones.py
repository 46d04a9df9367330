"""Indonesian mobile numbers in E.164 (``+628...``): the one place they are normalised.

PLACEHOLDER HOME: this is engineer "notify"'s ``cloud/notifications/phone.py`` copied
verbatim (not yet on main when onboarding needed it). When notify lands, this module
becomes ``from cloud.notifications.phone import InvalidPhone, is_valid_phone,
normalise_phone`` and nothing else changes.

Accepted forms (spaces, dashes, dots and brackets are ignored)::

    0812-3456-7890   62 812 3456 7890   +62 812 3456 7890   +62 (0)812 3456 7890

>>> normalise_phone("0812-3456-7890")
'+6281234567890'
>>> normalise_phone("+62 (0)812 3456 789")
'+628123456789'
>>> normalise_phone("021 555 1234")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
InvalidPhone: not an Indonesian mobile number (mobile numbers start with 08, 628 or +628)

The error never repeats the number (it ends up in logs and operator screens).
"""

from __future__ import annotations

import re

#: digits after "+62": mobile numbers are 08xx plus 7 to 10 more digits (10-13 with the 0)
_SUBSCRIBER = re.compile(r"^8[1-9]\d{7,10}$")
_SEPARATORS = re.compile(r"[\s\-.()/]")


class InvalidPhone(ValueError):
    """A phone number that is not a valid Indonesian mobile number (says why, not which)."""


def normalise_phone(raw: str) -> str:
    """``raw`` as E.164 (``+628...``), or :class:`InvalidPhone` saying what is wrong."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhone("no phone number given")
    text = raw.strip().replace("(0)", "")
    text = _SEPARATORS.sub("", text)
    if text.startswith("+"):
        if not text.startswith("+62"):
            raise InvalidPhone("not an Indonesian number (expected +62)")
        national = text[3:]
    elif text.startswith("62"):
        national = text[2:]
    elif text.startswith("0"):
        national = text[1:]
    else:
        raise InvalidPhone("a phone number must start with 0, 62 or +62")
    if national.startswith("0"):  # "+62 0812..." written with the trunk zero
        national = national[1:]
    if not national.isdigit():
        raise InvalidPhone("a phone number may contain only digits, spaces, dashes and +")
    if not national.startswith("8"):
        raise InvalidPhone(
            "not an Indonesian mobile number (mobile numbers start with 08, 628 or +628)"
        )
    if not _SUBSCRIBER.match(national):
        raise InvalidPhone("an Indonesian mobile number has 10 to 13 digits (with the 0)")
    return f"+62{national}"


def is_valid_phone(raw: str | None) -> bool:
    if raw is None:
        return False
    try:
        normalise_phone(raw)
    except InvalidPhone:
        return False
    return True

"""Receipt verification codes: 12 characters of Crockford base32 (60 random bits).

On the wire and in the database a code is upper case without separators
(``7K3QX9M2PA4T``); it is printed and typed in groups (``7K3Q-X9M2-PA4T``). What a
person types is normalised first: case, spaces and dashes do not matter, and the
letters Crockford's alphabet leaves out are read as the digits they look like
(``O`` -> ``0``, ``I``/``L`` -> ``1``).

>>> format_code("7K3QX9M2PA4T")
'7K3Q-X9M2-PA4T'
>>> normalise_code(" 7k3q-x9m2-pa4t ")
'7K3QX9M2PA4T'
>>> normalise_code("7K3Q-X9M2-PA4") is None
True
"""

from __future__ import annotations

import re

#: Crockford's base32 alphabet (no I, L, O, U)
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")


def normalise_code(text: str) -> str | None:
    """The code a person typed, or ``None`` if it cannot be one (wrong length or letter)."""
    compact = re.sub(r"[\s-]", "", text[:40]).upper().translate(_LOOKALIKES)
    return compact if _CODE.match(compact) else None


def format_code(code: str) -> str:
    """``XXXX-XXXX-XXXX`` for printing."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))

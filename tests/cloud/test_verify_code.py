"""Verification codes (cloud/verification.py): 12 Crockford base32 letters, each
position drawing from the whole alphabet.

mutant: five bits taken with ``& 15`` -> half the alphabet never appears -> fails
mutant: every position from the same five bits (no shift) -> the letters of a code are
        all equal -> fails
"""

from __future__ import annotations

from cloud.verification import new_verify_code
from contract.codes import ALPHABET, LENGTH, normalise_code


def test_codes_use_the_whole_alphabet_at_every_position() -> None:
    codes = [new_verify_code() for _ in range(4_000)]
    assert all(len(c) == LENGTH and set(c) <= set(ALPHABET) for c in codes)
    for position in range(LENGTH):
        assert {c[position] for c in codes} == set(ALPHABET), position
    assert len(set(codes)) == len(codes)  # 60 bits: no repeats in a few thousand
    assert sum(len(set(c)) == 1 for c in codes) == 0
    assert all(normalise_code(c) == c for c in codes[:50])

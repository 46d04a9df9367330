"""Verification codes (cloud/verification.py): 12 Crockford base32 letters, each
position drawing from the whole alphabet.

mutant: five bits taken with ``& 15`` -> half the alphabet never appears -> fails
mutant: every position from the same five bits (no shift) -> the letters of a code are
        all equal -> fails
(issue 15: a batch's codes come from one draw, :func:`new_verify_codes`)
mutant: the second code of each pair sliced from the first's letters (``i // 2``) ->
        repeats -> fails
mutant: the translation from base32 left out (RFC 4648 letters) -> I, L, O, U appear,
        0 and 1 never -> fails
"""

from __future__ import annotations

import pytest

from cloud.verification import new_verify_code, new_verify_codes
from contract.codes import ALPHABET, LENGTH, normalise_code


@pytest.mark.parametrize("batch", [1, 3, 4_000])
def test_codes_use_the_whole_alphabet_at_every_position(batch: int) -> None:
    codes = [c for _ in range(4_000 // batch) for c in new_verify_codes(batch)]
    codes += [new_verify_code() for _ in range(4_000 - len(codes))]
    assert all(len(c) == LENGTH and set(c) <= set(ALPHABET) for c in codes)
    for position in range(LENGTH):
        assert {c[position] for c in codes} == set(ALPHABET), position
    assert len(set(codes)) == len(codes)  # 60 bits: no repeats in a few thousand
    assert sum(len(set(c)) == 1 for c in codes) == 0
    assert all(normalise_code(c) == c for c in codes[:50])

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.booking.credit_code import ALPHABET, make, problem

REAL = ["91350100M000100Y43", "91440300708461136T", "91110000802100433B"]


@pytest.mark.parametrize("code", REAL)
def test_published_codes_are_valid(code):
    assert problem(code) is None


def test_mistyped_character_is_caught_with_the_expected_check_character():
    msg = problem("91440300708461137T")
    assert msg and "check character" in msg and "'T'" in msg


@pytest.mark.parametrize(
    "code, words",
    [("9144030070846113", "18 characters"), ("91440300708461136I", "cannot appear"), ("91ABCDEF708461136T", "region")],
)
def test_malformed_codes_say_why(code, words):
    assert words in (problem(code) or "")


@given(st.text(alphabet=ALPHABET, min_size=9, max_size=9), st.sampled_from("123456789Y"), st.integers(0, 999999))
def test_any_single_substitution_is_detected(org, reg, region):
    code = make(reg, "1", f"{region:06d}", org)
    assert problem(code) is None
    for i in range(17):
        for c in ALPHABET[:5]:
            if c != code[i] and not (2 <= i < 8 and not c.isdigit()):
                changed = code[:i] + c + code[i + 1 :]
                assert problem(changed) is not None, changed

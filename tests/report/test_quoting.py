"""llu_core.report.quoting: numbers as the prose quotes them."""

import math

import pytest

from llu_core.report.quoting import rounded, significant


def test_a_change_that_rounds_to_zero_reads_plus_zero():
    assert f"{rounded(-0.04):+.1f}" == "+0.0"
    assert f"{rounded(-0.0004, 2):+.2f}" == "+0.00"
    assert not math.copysign(1.0, rounded(-0.04)) < 0


def test_other_values_round_as_usual():
    assert rounded(-0.06) == -0.1 and rounded(1.26) == 1.3 and rounded(3.14159, 2) == 3.14
    assert f"{rounded(-1.96):+.1f}" == "-2.0"


@pytest.mark.parametrize("value, digits, expected", [(10 ** 0.3, 3, 2.0), (1000.0, 3, 1000.0), (39.810717, 3, 39.8),
                                                     (-0.0001, 2, -0.0001), (-1e-9, 1, -1e-9), (0.1 + 0.2, 3, 0.3)])
def test_significant_rounds_to_significant_digits(value, digits, expected):
    assert significant(value, digits) == expected


def test_significant_has_no_negative_zero():
    assert str(significant(-0.0)) == "0.0"

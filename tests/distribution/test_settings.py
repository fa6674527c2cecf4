"""Settings: rates over 100% are refused naming the field, no third level, ranges checked, all
checked before any applies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.client import Siyu
from siyu.distribution.settings import DistributionError, validate

BASE = {"level1_rate": "0.10", "level2_rate": "0.05"}


def test_rates_over_100_percent_are_refused(s: Siyu) -> None:
    with pytest.raises(DistributionError) as err:
        s.distribution.set_settings({"level1_rate": "0.6", "level2_rate": "0.5"})
    assert err.value.field == "level2_rate" and err.value.code == "rates_above_100"
    assert s.distribution.settings()["level1_rate"] == "0.1000"  # nothing applied
    s.distribution.set_settings({"level1_rate": "60%", "level2_rate": "40%"})
    assert s.distribution.settings()["level2_rate"] == "0.4000"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10000), st.integers(0, 10000))
def test_any_pair_of_rates_is_accepted_iff_their_sum_is_at_most_100(l1: int, l2: int) -> None:
    changes = {"level1_rate": f"{l1 / 100:.2f}%", "level2_rate": f"{l2 / 100:.2f}%"}
    if l1 + l2 <= 10000:
        validate(changes, BASE)
    else:
        with pytest.raises(DistributionError, match="at most 100%"):
            validate(changes, BASE)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"levels": 3}, "levels"),
        ({"freeze_days": 181}, "freeze_days"),
        ({"freeze_days": -1}, "freeze_days"),
        ({"mode": "pyramid"}, "mode"),
        ({"binding": "whoever"}, "binding"),
        ({"level1_rate": "abc"}, "level1_rate"),
        ({"level1_rate": "1.5"}, "level1_rate"),
        ({"min_withdrawal": "-1"}, "min_withdrawal"),
        ({"level3_rate": "0.01"}, "level3_rate"),
    ],
)
def test_bad_values_name_their_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(DistributionError) as err:
        validate(changes, BASE)
    assert err.value.field == field

"""The backtest matrices of the three example contracts over the real logs (the credit figures
the README quotes), as golden files."""

from __future__ import annotations

import pytest

from tests.datasets import dataset
from tests.golden.conftest import Golden, pulse

EXAMPLES = [
    ("bpic2013", "bpic2013_incidents"),
    ("helpdesk", "helpdesk_tickets"),
    ("scms", "scms_orders"),
]


@pytest.mark.parametrize(("data", "contract"), EXAMPLES)
def test_the_backtest_matrix_is_as_before(data: str, contract: str, golden: Golden) -> None:
    text = pulse(
        "backtest",
        str(dataset(data)),
        "--mapping",
        data,
        "--contract",
        f"contracts/{contract}.yaml",
        "--matrix",
    )
    golden(f"backtest_matrix/{data}.txt", text)

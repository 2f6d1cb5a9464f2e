"""The example contracts' plain-words explanation and OpenSLO export, as golden files."""

from __future__ import annotations

import pytest

from tests.golden.conftest import Golden, pulse

CONTRACTS = ["bpic2013_incidents", "helpdesk_tickets", "scms_orders"]


@pytest.mark.parametrize("contract", CONTRACTS)
def test_contract_check_explains_the_contract_as_before(contract: str, golden: Golden) -> None:
    golden(
        f"contract_check/{contract}.txt", pulse("contract", "check", f"contracts/{contract}.yaml")
    )


@pytest.mark.parametrize("contract", CONTRACTS)
def test_the_openslo_export_is_as_before(contract: str, golden: Golden) -> None:
    golden(f"openslo/{contract}.yaml", pulse("contract", "openslo", f"contracts/{contract}.yaml"))

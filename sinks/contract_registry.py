"""``pulse_contracts``: which client each monitored contract belongs to.

Row-level security on the result tables is keyed on this mapping (``sinks/sql/v5_tenants.sql``),
so the contract monitor writes it on every rebuild, before any of the contract's rows: a client's
role sees a contract's rows exactly while the registry names that client for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from outcome_pulse.processors.contract import Contract

REGISTER_CONTRACT = """
    INSERT INTO pulse_contracts (contract, client, title, currency)
    VALUES (%s, %s, %s, %s)
    ON CONFLICT (contract) DO UPDATE
    SET client = EXCLUDED.client, title = EXCLUDED.title, currency = EXCLUDED.currency,
        updated_at = now()
    WHERE (pulse_contracts.client, pulse_contracts.title, pulse_contracts.currency)
          IS DISTINCT FROM (EXCLUDED.client, EXCLUDED.title, EXCLUDED.currency)
"""

ContractRow = tuple[str, str, str | None, str | None]


def contract_rows(contracts: Iterable[Contract]) -> list[ContractRow]:
    """(contract, client, title, currency) of each contract, in contract order."""
    return sorted(
        (
            c.contract,
            c.client_id,
            c.title,
            c.commercial.currency if c.commercial is not None else None,
        )
        for c in contracts
    )

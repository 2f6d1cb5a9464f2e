"""Generated change histories and the notifications each tool sends for them: Jira issue
webhooks, ServiceNow outbound REST / Table API records, and the long-layout export rows a file
import of the same changes reads. Seeded, so a failure replays."""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from outcome_pulse.streams.live.auth import sign

BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

JIRA_STATUS = {
    "new": "To Do",
    "progress": "In Progress",
    "hold": "Waiting for customer",
    "resolved": "Done",
    "closed": "Closed",
}
SN_STATE = {"new": "1", "progress": "2", "hold": "3", "resolved": "6", "closed": "7"}
JIRA_PRIORITY = {1: "Highest", 2: "High", 3: "Medium", 4: "Low"}
PEOPLE = ["Ann Lee", "Bo Park", "Cy Diaz", "Di Chen"]


@dataclass(frozen=True)
class Change:
    """One change of one item, and the item's full state after it."""

    item: int
    n: int  # 0 for the creation, then 1, 2, ...
    at: datetime
    opened: datetime
    status: str
    priority: int
    assignee: str | None
    changed: frozenset[str]  # of status, priority, assignee
    resolved_at: datetime | None
    closed_at: datetime | None
    previous: Change | None = field(default=None, repr=False, compare=False)


def histories(items: int, seed: int) -> list[Change]:
    """Every change of ``items`` items, in time order. Nothing changes after a resolution but
    the closing (a file import re-observes the resolution on every later row)."""
    rng = random.Random(seed)
    changes: list[Change] = []
    for i in range(1, items + 1):
        at = BASE + timedelta(minutes=7 * i, seconds=rng.randrange(60))
        first = Change(i, 0, at, at, "new", rng.randint(1, 4), None, frozenset(), None, None)
        item = [first]
        steps = ["assignee", "progress"]
        if rng.random() < 0.4:
            steps += ["hold", "progress"]
        for side in ("priority", "assignee"):
            # not while on hold: a file import re-observes the hold on every row (moving
            # paused_since), which a Jira changelog does not
            if rng.random() < 0.3:
                places = [p for p in range(1, len(steps) + 1) if steps[p - 1] != "hold"]
                steps.insert(rng.choice(places), side)
        waiting = rng.random() < 0.15  # still on hold at the end
        if waiting:
            steps = ["assignee", "progress", "hold"]
        elif rng.random() < 0.8:
            steps.append("resolved")
            if rng.random() < 0.6:
                steps.append("closed")
        for step in steps:
            prev = item[-1]
            at = prev.at + timedelta(minutes=rng.randint(1, 300), seconds=rng.randrange(60))
            status, priority, assignee = prev.status, prev.priority, prev.assignee
            if step == "assignee":
                assignee = rng.choice([p for p in PEOPLE if p != assignee])
                changed = {"assignee"}
            elif step == "priority":
                priority = rng.choice([p for p in (1, 2, 3, 4) if p != priority])
                changed = {"priority"}
            else:
                status, changed = step, {"status"}
            item.append(
                Change(
                    i,
                    len(item),
                    at,
                    prev.opened,
                    status,
                    priority,
                    assignee,
                    frozenset(changed),
                    at if step == "resolved" else prev.resolved_at,
                    at if step == "closed" else prev.closed_at,
                    prev,
                )
            )
        changes.extend(item)
    changes.sort(key=lambda c: (c.at, c.item))
    return changes


def jira_key(item: int) -> str:
    return f"OPS-{item}"


def sn_number(item: int) -> str:
    return f"INC{item:07d}"


def _jira_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def _sn_time(t: datetime | None) -> str:
    return "" if t is None else t.strftime("%Y-%m-%d %H:%M:%S")


def jira_webhook(c: Change) -> dict[str, Any]:
    """A Jira issue webhook (Cloud shape) for one change."""
    fields = {
        "summary": f"Printer on floor {c.item % 5} is down",
        "status": {"name": JIRA_STATUS[c.status], "id": str(10000 + len(c.status))},
        "priority": {"name": JIRA_PRIORITY[c.priority], "id": str(c.priority)},
        "assignee": None
        if c.assignee is None
        else {"displayName": c.assignee, "accountId": f"acc-{PEOPLE.index(c.assignee)}"},
        "created": _jira_time(c.opened),
        "updated": _jira_time(c.at),
        "resolutiondate": None if c.resolved_at is None else _jira_time(c.resolved_at),
        "project": {"key": "OPS", "name": "Operations"},
        "issuetype": {"name": "Incident"},
    }
    payload: dict[str, Any] = {
        "timestamp": int(c.at.timestamp() * 1000),
        "webhookEvent": "jira:issue_created" if c.n == 0 else "jira:issue_updated",
        "issue_event_type_name": "issue_created" if c.n == 0 else "issue_generic",
        "user": {"displayName": "Automation", "accountId": "acc-bot"},
        "issue": {"id": str(20000 + c.item), "key": jira_key(c.item), "fields": fields},
    }
    if c.n > 0 and c.previous is not None:
        items = []
        p = c.previous
        if "status" in c.changed:
            items.append(_jira_change("status", JIRA_STATUS[p.status], JIRA_STATUS[c.status]))
        if "priority" in c.changed:
            items.append(
                _jira_change("priority", JIRA_PRIORITY[p.priority], JIRA_PRIORITY[c.priority])
            )
        if "assignee" in c.changed:
            items.append(_jira_change("assignee", p.assignee, c.assignee))
        payload["changelog"] = {"id": str(30000 + c.item * 100 + c.n), "items": items}
    return payload


def _jira_change(name: str, old: str | None, new: str | None) -> dict[str, Any]:
    return {"field": name, "fieldtype": "jira", "fromString": old, "toString": new}


def servicenow_record(c: Change) -> dict[str, Any]:
    """An incident as a ServiceNow business rule posts it (and the Table API returns it)."""
    return {
        "sys_id": f"{c.item:032x}",
        "number": sn_number(c.item),
        "short_description": f"Printer on floor {c.item % 5} is down",
        "state": SN_STATE[c.status],
        "priority": str(c.priority),
        "assigned_to": c.assignee or "",
        "assignment_group": "Service Desk",
        "category": "hardware",
        "opened_at": _sn_time(c.opened),
        "sys_updated_on": _sn_time(c.at),
        "sys_mod_count": str(c.n),
        "resolved_at": _sn_time(c.resolved_at),
        "closed_at": _sn_time(c.closed_at),
    }


# -- the same changes as a file import reads them -----------------------------------------------

EXPORT_COLUMNS = ["number", "updated", "state", "priority", "assignee", "group_a", "group_b"]


def write_export(path: Path, changes: list[Change], shape: str) -> None:
    """One row per change (long layout), in the vocabulary of ``shape`` (jira or servicenow)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for c in changes:
            if shape == "jira":
                row = [
                    jira_key(c.item),
                    _jira_time(c.at),
                    JIRA_STATUS[c.status],
                    JIRA_PRIORITY[c.priority],
                    c.assignee or "",
                    "OPS",
                    "Incident",
                ]
            else:
                row = [
                    sn_number(c.item),
                    _sn_time(c.at) + "+00:00",
                    SN_STATE[c.status],
                    str(c.priority),
                    c.assignee or "",
                    "Service Desk",
                    "hardware",
                ]
            writer.writerow(row)


def export_mapping(shape: str, source: str) -> dict[str, Any]:
    """The file-import mapping of ``write_export``'s rows: the built-in live mapping's states."""
    states = (
        {v: lc for v, lc in _JIRA_LIFECYCLES.items()}
        if shape == "jira"
        else {v: lc for v, lc in _SN_LIFECYCLES.items()}
    )
    attrs = ("project", "issue_type") if shape == "jira" else ("group", "category")
    return {
        "source": source,
        "item_kind": "incident",
        "format": "csv",
        "layout": "long",
        "item_id": {"column": "number"},
        "timestamp": {"column": "updated"},
        "state": {"column": "state", "events": states, "default": "state_changed"},
        "first_event": "created",
        "priority": {"column": "priority"},
        "assignee": {"column": "assignee"},
        "attributes": {attrs[0]: "group_a", attrs[1]: "group_b"},
    }


_JIRA_LIFECYCLES = {
    "To Do": "state_changed",
    "In Progress": "state_changed",
    "Waiting for customer": "paused",
    "Done": "resolved",
    "Closed": "closed",
}
_SN_LIFECYCLES = {
    "1": "state_changed",
    "2": "state_changed",
    "3": "paused",
    "6": "resolved",
    "7": "closed",
}


def signed(secret: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {
        "X-Hub-Signature-256": f"sha256={sign(secret, body)}",
        "Content-Type": "application/json",
    }

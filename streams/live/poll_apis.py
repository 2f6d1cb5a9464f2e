"""The two polled APIs, as documented: how to ask for records updated since an instant, where
the records are in a page, and whether there is another page.

* ServiceNow Table API: ``GET /api/now/table/<table>?sysparm_query=sys_updated_on>=<t>
  ^ORDERBYsys_updated_on&sysparm_limit=N&sysparm_offset=K`` -> ``{"result": [...]}``; a page
  shorter than the limit is the last. Times are UTC ``YYYY-MM-DD hh:mm:ss`` (the integration
  user's time zone must be UTC). ``sysparm_exclude_reference_link`` makes references plain values.
* Jira search: ``GET /rest/api/2/search?jql=updated >= "<t>" ORDER BY updated ASC&startAt=K
  &maxResults=N`` -> ``{"startAt", "maxResults", "total", "issues": [...]}``. JQL times have
  minute resolution, so the lower bound is rounded down to the minute (records re-read at the
  boundary keep their ids, see ``streams/live/poller.py``).

``InvalidPage`` is raised for a body that is not the documented shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol


class InvalidPage(Exception):
    """A response body that is not the API's documented page shape."""


class PolledApi(Protocol):
    def request(self, since: datetime, offset: int) -> tuple[str, dict[str, str]]: ...
    def records(self, page: Any) -> list[Any]: ...
    def more(self, page: Any, offset: int, count: int) -> bool: ...


@dataclass(frozen=True)
class ServiceNowTable:
    table: str = "incident"
    page_size: int = 100

    def request(self, since: datetime, offset: int) -> tuple[str, dict[str, str]]:
        bound = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"/api/now/table/{self.table}", {
            "sysparm_query": f"sys_updated_on>={bound}^ORDERBYsys_updated_on",
            "sysparm_limit": str(self.page_size),
            "sysparm_offset": str(offset),
            "sysparm_exclude_reference_link": "true",
            "sysparm_display_value": "false",
        }

    def records(self, page: Any) -> list[Any]:
        if not isinstance(page, dict) or not isinstance(page.get("result"), list):
            raise InvalidPage('expected {"result": [...]}')
        return list(page["result"])

    def more(self, page: Any, offset: int, count: int) -> bool:
        return count >= self.page_size


@dataclass(frozen=True)
class JiraSearch:
    jql: str = ""
    page_size: int = 100

    def request(self, since: datetime, offset: int) -> tuple[str, dict[str, str]]:
        bound = since.astimezone(UTC).strftime("%Y/%m/%d %H:%M")  # JQL: minutes, rounded down
        condition = f'updated >= "{bound}"'
        jql = f"({self.jql}) AND {condition}" if self.jql else condition
        return "/rest/api/2/search", {
            "jql": f"{jql} ORDER BY updated ASC",
            "startAt": str(offset),
            "maxResults": str(self.page_size),
            "fields": "status,priority,assignee,created,updated,resolutiondate,project,issuetype",
        }

    def records(self, page: Any) -> list[Any]:
        if (
            not isinstance(page, dict)
            or not isinstance(page.get("issues"), list)
            or not isinstance(page.get("total"), int)
        ):
            raise InvalidPage('expected {"startAt": .., "total": .., "issues": [...]}')
        return list(page["issues"])

    def more(self, page: Any, offset: int, count: int) -> bool:
        return count > 0 and offset + count < int(page["total"])

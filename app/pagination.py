"""Offset pagination over a SQLAlchemy select, shared by pages and the API."""
from __future__ import annotations

from dataclasses import dataclass

from core.db import session
from tenants.queries import count


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(query, page: int | str | None, per_page: int, max_per_page: int = 200) -> Page:
    try:
        page = max(1, int(page or 1))
    except ValueError:
        page = 1
    per_page = max(1, min(int(per_page), max_per_page))
    total = count(query)
    items = session.execute(query.limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return Page(items, page, per_page, total)

"""Pagination with a fixed number of queries: one count and one page of rows."""

from __future__ import annotations

from flask import request

from msc.core.db import db

MAX_PAGE = 100_000


def page_number() -> int:
    try:
        return min(max(int(request.args.get("page", 1)), 1), MAX_PAGE)
    except ValueError:
        return 1


def paginate(statement, page: int, per_page: int):
    return db.paginate(statement, page=page, per_page=per_page, error_out=False, count=True)

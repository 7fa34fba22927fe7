"""One table as a transaction sees it: the committed rows, overlaid with the rows it wrote.

Reads see committed rows as they are now plus this transaction's own writes (PostgreSQL's default
READ COMMITTED), and ``publish`` writes back only the rows this transaction touched, so two
interleaved units of work cannot silently undo each other's changes to different rows. Nothing is
copied when a unit of work starts: authentication opens one per (uncached) request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

Row = TypeVar("Row")


class WorkingRows(Generic[Row]):
    def __init__(self, committed: dict[str, Row]) -> None:
        self._committed = committed
        self._written: dict[str, Row] = {}

    def begin(self) -> None:
        self._written = {}

    def get(self, row_id: str) -> Row | None:
        if row_id in self._written:
            return self._written[row_id]
        return self._committed.get(row_id)

    def __contains__(self, row_id: str) -> bool:
        return row_id in self._written or row_id in self._committed

    def values(self) -> list[Row]:
        return list({**self._committed, **self._written}.values())

    def put(self, row_id: str, row: Row) -> None:
        self._written[row_id] = row

    def publish(self, merge: Callable[[Row, Row | None], Row] | None = None) -> None:
        """Write this transaction's rows over the committed ones; ``merge`` may reconcile a row
        with the committed version (for columns that are incremented rather than replaced)."""
        for row_id, row in self._written.items():
            self._committed[row_id] = merge(row, self._committed.get(row_id)) if merge else row
        self._written = {}

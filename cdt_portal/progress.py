"""How far along something is: `done` of `total`, and the percentage, computed here only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def complete(self) -> bool:
        """Everyone is done, and there was someone to be done."""
        return self.total > 0 and self.done >= self.total

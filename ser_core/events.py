"""What a run tells its caller: progress events (:class:`Reporter`) and the summary (:class:`RunReport`).

The library reports through these and prints nothing; the CLI renders the events with rich.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ser_core.records import CellOutcome
from ser_core.results import CellKey


class Reporter:
    """Receives progress events; the CLI renders them with rich, the library default is silent."""

    def stage(self, description: str, total: int) -> None:
        """A new stage of ``total`` steps begins (extraction, or the cells of one system)."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more steps of the current stage are done."""

    def note(self, message: str) -> None:
        """Something the user should read (a skipped corpus, a failed cell)."""

    def plan(self, totals: Mapping[str, int]) -> None:
        """A distributed run submitted ``totals[corpus]`` cells of each corpus as one graph."""
        self.stage("cells", sum(totals.values()))

    def cell_done(self, corpus: str, ok: bool) -> None:
        """One cell of a distributed run finished (``ok``: stored as a success)."""
        self.advance(1)

    def cell_result(self, key: CellKey, outcome: CellOutcome) -> None:
        """One cell's outcome was stored (both kinds of run; called before ``advance``/``cell_done``)."""


@dataclass
class RunReport:
    """What a run did: cells computed, cells found already done, failures, and what was skipped.

    ``missing`` lists corpora with no directory configured (normal when a suite names corpora this
    machine does not have); ``skipped`` lists everything that could not run for another reason.
    """

    computed: int = 0
    resumed: int = 0
    failed: list[tuple[CellKey, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (corpus, how to configure it)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

"""What a run tells its caller: progress events (:class:`Reporter`) and the summary (:class:`RunReport`).

The library reports through these and prints nothing: every event is plain text and data (no markup);
the CLI renders the events with rich, colouring a :meth:`Reporter.warning` yellow and a
:meth:`Reporter.failure` red.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ser_core.records import CellOutcome
from ser_core.results import CellKey


def line(subject: str, detail: str = "") -> str:
    """A warning or failure as one line of plain text: ``subject: detail``."""
    return f"{subject}: {detail}" if detail else subject


class Reporter:
    """Receives progress events; the CLI renders them with rich, the library default is silent."""

    def stage(self, description: str, total: int) -> None:
        """A new stage of ``total`` steps begins (extraction, or the cells of one system)."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more steps of the current stage are done."""

    def note(self, message: str) -> None:
        """Something the user should read (where the cluster is, a dashboard's address); plain text.
        :meth:`warning` and :meth:`failure` come here too, as one line, unless a reporter overrides them."""

    def warning(self, subject: str, detail: str = "") -> None:
        """Something the run goes on without or that may change its results (a corpus or system
        skipped, clips excluded or silent, a cache file rebuilt): ``subject`` says what, ``detail`` why."""
        self.note(line(subject, detail))

    def failure(self, subject: str, detail: str) -> None:
        """A cell was stored as failed: ``subject`` names it, ``detail`` is its error."""
        self.note(line(subject, detail))

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

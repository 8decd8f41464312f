"""``serbench crossboard``: the cross-corpus board (:mod:`ser_core.crossboard`) of a results database.

Per system, the train x test matrix (UAR with the test corpus's speaker-bootstrap CI; the diagonal
from within-corpus results, labelled so), leave-one-corpus-out rows and paired tests between
systems, in the terminal or exported to Markdown, CSV, JSON or HTML (a heat map per system).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ser_core import config as paths
from ser_core.cli_common import ForceOption, ResamplesOption, StatsSeedOption, console, err_console, friendly_errors
from ser_core.errors import ConfigError


@friendly_errors
def crossboard(
    db: Annotated[Optional[Path], typer.Option("--db", help="Results database \\[default: $SERBENCH_DB or "
                                               "./serbench.db].")] = None,
    system: Annotated[Optional[list[str]], typer.Option(help="Only these systems (repeatable).")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="table (terminal), txt (the table as plain text), md, csv, json or html "
                                               "\\[default: from the --output suffix, else table].")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the export here instead of "
                                                   "stdout.")] = None,
    resamples: ResamplesOption = 1000,
    stats_seed: StatsSeedOption = 0,
    force: ForceOption = False,
) -> None:
    """The cross-corpus board: per system a train x test matrix with CIs, leave-one-corpus-out rows, paired tests."""
    from ser_core import crossboard as board_mod
    from ser_core import outputs
    from ser_core.cli_common import export_format
    from ser_core.results import ResultStore
    from ser_core.results_check import check_results_db, results_db_errors

    fmt = export_format(fmt, output, board_mod.FORMATS[1:])
    replacing = False
    if output is not None:
        replacing = outputs.refuse_to_replace(output, force)
        outputs.check_output(output)
    db_path = db or paths.default_db()
    if not db_path.exists():
        raise ConfigError(f"{db_path}: no results database here. Run a cross-corpus suite (`serbench run --suite "
                          "cross-smoke`) or pass --db PATH.")
    check_results_db(db_path, write=False)
    with results_db_errors(db_path), ResultStore(db_path, readonly=True) as store:
        _check_systems(store, system)
        board = board_mod.compute(store, system, resamples=resamples, seed=stats_seed)
    if not board:
        raise ConfigError(f"{db_path}: no cross-corpus results stored; run a suite with protocol = \"cross\" or "
                          "\"leave-one-corpus-out\" first (`serbench suites` lists them).")
    if fmt == "table":
        board_mod.to_terminal(board, console)
        return
    text = board_mod.render(board, fmt)
    if output is None:
        outputs.write_stdout(text)
    else:
        outputs.write_text(output, text)
        cells = sum(len(c) for c in board.cells.values())
        (err_console if outputs.is_stream(output) else console).print(
            f"{'replaced' if replacing else 'wrote'} {escape(str(output))} ({cells} cells)", highlight=False)


def _check_systems(store, systems: list[str] | None) -> None:
    """Refuse a --system with no cross-corpus result stored, naming those that have one (closest first)."""
    import difflib

    from ser_core.crosscorpus import is_cross

    if not systems:
        return
    stored = sorted({system for corpus, system in store.pairs() if is_cross(corpus)})
    for name in systems:
        if stored and name not in stored:
            close = difflib.get_close_matches(name, stored, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--system {name!r}: no cross-corpus results stored under this name.{hint} Systems with "
                              f"cross-corpus results: {', '.join(stored)}.")

"""A rich console that never cuts a number: what the command line prints and the boards' plain text.

Shared by :mod:`ser_core.cli_common` (the consoles of every command) and the boards' text renderings
(:func:`ser_core.crossboard.to_text`), so a board module need not import the command line.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table

from ser_core.outputs import encodable


#: Below this width a word-wrapped line could split a number ("[100.0," is 7 characters): lines are
#: then left whole for the terminal to wrap (rich's soft wrap), and tables become one line per cell.
MIN_WIDTH = 10


class SafeConsole(Console):
    """A rich console that writes only what its stream's encoding can show and never cuts a number:
    a table whose narrowest layout is wider than the terminal is printed one line per cell."""

    def render_str(self, text: str, **kwargs) -> Any:
        return super().render_str(encodable(text, self.encoding), **kwargs)

    def print(self, *objects: Any, **kwargs) -> None:
        if self.width < MIN_WIDTH:
            kwargs["soft_wrap"] = True  # nothing is cut or folded here; the terminal wraps the lines
        fitted: list[Any] = []
        for renderable in objects:
            lines = self._too_wide(renderable)
            if lines is None:
                fitted.append(renderable)
                continue
            if fitted:
                super().print(*fitted, **kwargs)
                fitted = []
            for line in lines:  # word-wrapped (numbers are shorter than MIN_WIDTH), never cut
                super().print(line, **{k: v for k, v in kwargs.items() if k != "end"})
        if fitted or not objects:
            super().print(*fitted, **kwargs)

    def _too_wide(self, renderable: Any) -> list[Any] | None:
        """``renderable`` as one line per cell when it is a table too wide for this console; else ``None``."""
        if not isinstance(renderable, Table) or not renderable.columns:
            return None
        needed = table_min_width(self, renderable)
        return None if needed <= self.width else cell_lines(renderable, needed, self.width)


def table_min_width(console: Console, table: Table) -> int:
    """Columns ``table`` needs to show every word of every cell whole (rich cuts words only below this)."""
    wide = console.options.update_width(10**6)
    return table.__rich_measure__(console, wide).minimum


def cell_lines(table: Table, needed: int, width: int) -> list[Any]:
    """``table`` as one line per cell (``header: value``; empty cells left out), each row headed by its
    first cell: for a terminal narrower than the table's narrowest layout (``needed`` columns)."""
    columns = table.columns
    cells = [list(c.cells) for c in columns]
    lines: list[Any] = []
    if table.title:
        lines.append(table.title)
    lines.append(f"[dim](one line per cell: the table needs {needed} columns, the terminal has {width})[/]")
    for r in range(table.row_count):
        for i, column in enumerate(columns):
            value = cells[i][r] if r < len(cells[i]) else ""
            header = column.header if isinstance(column.header, str) else ""
            indent = "" if i == 0 else "  "
            if isinstance(value, str):
                if value.strip() or i == 0:
                    lines.append(f"{indent}{header}: {value}" if header else f"{indent}{value}")
            else:
                lines.append(Group(f"{indent}{header}:", Padding(value, (0, 0, 0, len(indent) + 2))))
    return lines

"""Tables that fit the width: every listing of the CLI degrades the same way in a narrow window or pipe.

The short columns stay on one line, aligned; if even they are too wide, the widest is cut with "…".
A table may end in one free-text column (a description, an error, a help text, a setting's value):
a row's text stays on its line when it fits, else it moves to the next line, indented, and is cut
(or, for values that must be read whole, folded) to the width. So at 80 columns a row is at most two
lines. The width is the terminal's, or COLUMNS, or 80 when piped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text

GAP = 2  # spaces between columns
INDENT = 4  # where a row's free text starts when it has a line of its own
MIN_WIDTH = 4  # a cut column keeps at least this many cells


@dataclass
class Table:
    headers: Sequence[str]
    note: str | None = None  # header of the trailing free-text column, if the table has one
    fold_note: bool = False  # fold long free text over several lines instead of cutting it
    show_header: bool = True
    rows: list[tuple[list[Text], str]] = field(default_factory=list)

    def add_row(self, *cells: str | Text, note: str = "") -> None:
        """Cells are plain text (never markup: names and errors may hold brackets) or styled Text."""
        if len(cells) != len(self.headers):
            raise ValueError(f"{len(cells)} cells for {len(self.headers)} columns")
        texts = [cell if isinstance(cell, Text) else Text(cell) for cell in cells]
        self.rows.append((texts, " ".join(note.split())))  # free text on one line: no newlines or tabs

    def lines(self, width: int) -> list[Text]:
        widths = _fit(self._natural_widths(), width)
        fixed = sum(widths) + GAP * (len(widths) - 1)
        room = width - fixed - GAP  # what a note may take on its row's line
        inline = [bool(note) and Text(note).cell_len <= room for _, note in self.rows]
        header = _join([Text(h) for h in self.headers], widths)
        if self.note and any(inline):
            header.append(" " * GAP + self.note)
        header.stylize("bold")
        lines = [header] if self.show_header else []
        for (cells, note), on_its_line in zip(self.rows, inline, strict=True):
            line = _join(cells, widths)
            if on_its_line:
                line.append(" " * (GAP + fixed - line.cell_len) + note)
            lines.append(line)
            if note and not on_its_line:
                lines.extend(_below(note, width, self.fold_note))
        for line in lines:
            line.rstrip()  # padding of the last cell
        return lines

    def _natural_widths(self) -> list[int]:
        widths = [len(h) for h in self.headers]
        for cells, _ in self.rows:
            widths = [max(w, cell.cell_len) for w, cell in zip(widths, cells, strict=True)]
        return widths


def print_table(table: Table, console: Console | None = None) -> None:
    from aigc.cli.render import out

    console = console or out
    for line in table.lines(console.width):
        console.print(line, soft_wrap=True, crop=False)


def _fit(widths: list[int], width: int) -> list[int]:
    """Narrow the widest columns, one cell at a time, until the columns and their gaps fit `width`."""
    widths = list(widths)
    while sum(widths) + GAP * (len(widths) - 1) > width:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= MIN_WIDTH:
            break  # too many columns for this width: let the line run over rather than show nothing
        widths[widest] -= 1
    return widths


def _join(cells: Sequence[Text], widths: Sequence[int]) -> Text:
    line = Text()
    for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
        if i:
            line.append(" " * GAP)
        shown = cell.copy()
        shown.truncate(width, overflow="ellipsis", pad=True)
        line.append_text(shown)
    return line


def _below(note: str, width: int, fold: bool) -> list[Text]:
    room = max(MIN_WIDTH, width - INDENT)
    if not fold:
        text = Text(note)
        text.truncate(room, overflow="ellipsis")
        return [Text(" " * INDENT) + text]
    return [Text(" " * INDENT + note[i : i + room]) for i in range(0, len(note), room)]

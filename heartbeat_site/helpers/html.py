"""Small HTML pieces the admin pages build from data (escaped like any `format_html`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def table(headers: Sequence[object], rows: Iterable[Sequence[object]], *, row_class: str = "") -> SafeString:
    """A plain `<table>`: a header row, then one row per item; cells are escaped unless marked safe."""
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    opening = format_html('<tr class="{}">', row_class) if row_class else SafeString("<tr>")
    body = format_html_join(
        "", "{}{}</tr>", ((opening, format_html_join("", "<td>{}</td>", ((cell,) for cell in row))) for row in rows)
    )
    return format_html("<table><tr>{}</tr>{}</table>", head, body)

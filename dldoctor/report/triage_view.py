"""What `triage` adds to the report it prints: the formats it read, and what to paste next."""

from __future__ import annotations

from dldoctor.report.clean import clean, md_text

MAX_ASKS = 6  # the few pastes that settle most; the rest would bury them


def render_asks(
    formats: tuple[str, ...],
    notes: tuple[str, ...],
    asks: list[tuple[str, list[str]]],
    output_format: str,
) -> str:
    """The lines after the report: terminal text, or Markdown for --format markdown."""
    markdown = output_format == "markdown"
    out = [""]
    shown = ", ".join(formats) if formats else "nothing triage reads"
    out.append(
        f"**Read from the paste:** {md_text(shown)}"
        if markdown
        else f"Read from the paste: {shown}"
    )
    for note in notes:
        out.append(f"- {md_text(note, line_start=True)}" if markdown else f"  note: {clean(note)}")
    if asks:
        out.append("")
        head = "Not judged: the paste does not show what these checks need. To settle them:"
        out.append(f"**{head}**" if markdown else head)
        out.append("")
        for ask, codes in asks[:MAX_ASKS]:
            listed = ", ".join(codes)
            # The asks are dldoctor's own words (advice.ASK): Markdown code spans kept as written.
            out.append(
                f"- {ask} ({listed})" if markdown else f"  - {ask.replace('`', '')} ({listed})"
            )
    return "\n".join(out) + "\n"

"""A small PDF writer over fpdf2 with a Unicode font, for exports and reports.

Client names, quotes and notes are free text (accents, curly quotes, arrows), which fpdf2's core fonts
cannot encode. matplotlib, already a dependency for the charts, ships DejaVu Sans, so the PDF always has
a Unicode font; only if those files are missing do we fall back to Helvetica with text reduced to Latin-1.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONT = "DejaVu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
HEADING_SIZES = {1: 16, 2: 12.5, 3: 11}
BODY_SIZE = 10


def _font_dir() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class PdfDocument:
    """A4 portrait document with a title, headings, paragraphs, bullet lists and images."""

    def __init__(self, title: str, redact: Callable[[str], str] | None = None) -> None:
        """`redact` rewrites every string written, title included (a de-identified export's dates)."""
        self.redact = redact or (lambda value: value)
        self.pdf = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_title(self.redact(title))
        self.pdf.set_creator("Companion")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_margins(18, 16, 18)
        self.unicode = all((_font_dir() / name).exists() for name in FONT_FILES.values())
        if self.unicode:
            for style, name in FONT_FILES.items():
                self.pdf.add_font(FONT, style, str(_font_dir() / name))
        self.family = FONT if self.unicode else "Helvetica"
        self.pdf.add_page()
        self.heading(title, level=1)

    def text(self, value: str) -> str:
        """Text the current font can encode (identity with DejaVu), redacted."""
        value = self.redact(value)
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def heading(self, value: str, level: int = 2) -> None:
        self.pdf.set_font(self.family, "B", HEADING_SIZES.get(level, BODY_SIZE))
        self.pdf.ln(2 if level > 1 else 0)
        self._write(value, 6 if level > 1 else 8)
        self.pdf.ln(1)

    def paragraph(self, value: str, italic: bool = False) -> None:
        self.pdf.set_font(self.family, "I" if italic else "", BODY_SIZE)
        self._write(value, 5)
        self.pdf.ln(1)

    def labelled(self, label: str, value: str) -> None:
        """A bold label line followed by its (multi-line) text, as in a SOAP note."""
        self.pdf.set_font(self.family, "B", BODY_SIZE)
        self._write(label, 5)
        self.paragraph(value)

    def bullets(self, title: str, items: list[str]) -> None:
        if title:
            self.pdf.set_font(self.family, "B", BODY_SIZE)
            self._write(title, 5)
        self.pdf.set_font(self.family, "", BODY_SIZE)
        for item in items:
            self._write(f"•  {item}" if self.unicode else f"-  {item}", 5, indent=4)
        self.pdf.ln(1)

    def image(self, png: bytes, width_mm: float = 150) -> None:
        """Embed a PNG (e.g. a matplotlib chart rendered in memory), starting a page if it would not fit."""
        height = width_mm * 0.42
        if self.pdf.get_y() + height > self.pdf.h - self.pdf.b_margin:
            self.pdf.add_page()
        self.pdf.image(io.BytesIO(png), x=self.pdf.l_margin, w=width_mm, h=height)
        self.pdf.ln(2)

    def _write(self, value: str, line_height: float, indent: float = 0) -> None:
        self.pdf.set_x(self.pdf.l_margin + indent)
        self.pdf.multi_cell(
            self.pdf.epw - indent,
            line_height,
            self.text(value),
            align="L",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    def output(self) -> bytes:
        return bytes(self.pdf.output())

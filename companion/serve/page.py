"""The HTML page that hosts the terminal: textual-serve's page, made local-only and tablet-friendly.

textual-serve's page fetches its font from Google Fonts, which would tell a third party whenever a session
is opened; the same font ships in textual-serve's static folder, so the page uses that copy instead (the
Content-Security-Policy would block the remote fetch anyway). For tablets it adds a viewport that stops
pinch and double-tap zoom and `touch-action: manipulation`, so a tap is a tap, delivered at once.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

TEMPLATE_NAME = "app_index.html"
_REMOTE_FONT_LINK = re.compile(r"<link[^>]*fonts\.googleapis\.com[^>]*>", re.DOTALL)
_HEAD_END = "</head>"
_LOCAL_FONT = """<style>
      @font-face {
        font-family: "Roboto Mono";
        font-style: normal;
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf") format("truetype");
      }
      @font-face {
        font-family: "Roboto Mono";
        font-style: italic;
        src: url("{{ config.static.url }}fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype");
      }
    </style>"""
_TABLET_HEAD = """<title>{{ application.name }}</title>
    <meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no" />
    <style>
      html, body, #terminal { touch-action: manipulation; }
    </style>
  </head>"""


def page_source(textual_serve_templates: Path) -> str:
    """textual-serve's page template with the remote font replaced and the tablet settings added."""
    source = (textual_serve_templates / TEMPLATE_NAME).read_text(encoding="utf-8")
    source = _REMOTE_FONT_LINK.sub(lambda _: _LOCAL_FONT, source)
    return source.replace(_HEAD_END, _TABLET_HEAD, 1)


def page_loader(textual_serve_templates: Path) -> jinja2.BaseLoader:
    """A Jinja loader serving only the adapted page."""
    return jinja2.DictLoader({TEMPLATE_NAME: page_source(textual_serve_templates)})

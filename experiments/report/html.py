"""The report as one self-contained HTML page: MLflow's artifact view renders
an .html file in place but shows Markdown as plain text, and the page it
renders cannot reach the figures beside it, so they are embedded."""

import base64
import re
from pathlib import Path

from markdown_it import MarkdownIt

_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
    "img{max-width:100%}"
)


def _embedded(html, directory):
    """`html` with each `<img src="NAME.png">` of a file in `directory` inlined."""

    def inline(match):
        path = Path(directory) / match.group(1)
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{data}"'

    return re.sub(r'src="([^":/]+\.png)"', inline, html)


def write_html(markdown_path):
    """Writes the Markdown file's HTML rendering beside it (same name, .html); returns its path."""
    markdown_path = Path(markdown_path)
    body = MarkdownIt("commonmark").enable("table").render(markdown_path.read_text())
    page = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{_STYLE}</style>'
        f"<title>keras-norms report</title></head><body>"
        f"{_embedded(body, markdown_path.parent)}</body></html>\n"
    )
    path = markdown_path.with_suffix(".html")
    path.write_text(page, encoding="utf-8")
    return path

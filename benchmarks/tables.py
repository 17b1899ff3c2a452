"""Where the benchmark results live and how their tables print; no
framework imports, so `render.py` runs without one."""

import os

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def markdown_table(header, rows):
    """Formats rows (lists of cells) as a Markdown table."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)

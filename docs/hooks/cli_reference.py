"""MkDocs hook: fills docs/cli.md with the command line's own `--help`, so the
reference in the site is the one the code prints, never a copy gone stale."""

import contextlib
import io
import os

MARKER = "<!-- cli-reference -->"
# One width for every build: argparse wraps its help to the terminal's.
COLUMNS = "100"


def _help(argv):
    """What `python -m experiments ARGV --help` prints."""
    from experiments.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*argv, "--help"])
    return out.getvalue().rstrip()


def reference():
    """The Markdown of every command's help, and of every task's own options."""
    from experiments.cli import COMMANDS
    from experiments.tasks import TASKS

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = COLUMNS
    try:
        sections = [("python -m experiments", [])]
        sections += [(f"python -m experiments {command}", [command]) for command in COMMANDS]
        sections += [
            (f"python -m experiments run --task {task}", ["run", "--task", task]) for task in TASKS
        ]
        return "\n\n".join(
            f"## `{title}`\n\n```text\n{_help(argv)}\n```" for title, argv in sections
        )
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def on_page_markdown(markdown, page, config, files):
    if MARKER in markdown:
        return markdown.replace(MARKER, reference())
    return markdown

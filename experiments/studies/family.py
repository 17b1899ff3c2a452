"""One family over several study pages: Holm's adjustment over every claim that
the pages test, read from their "Every claim" tables, for studies whose runs
are not in one store (a page is written from one store, and adjusts over its
own claims only).

Holm's adjusted p-values only grow when the family grows, so a claim keeps
its page's verdict when its p stays under 0.05 in the larger family and
becomes inconclusive otherwise; untestable and inconclusive claims stay so.
The pages print p-values to two significant digits: the family is adjusted
over those.

    python -m experiments.studies.family docs/studies/studies.md docs/studies-later/studies.md
"""

import argparse
import dataclasses
import math
import re
import sys

from .verdict import ALPHA, EQUIVALENT, INCONCLUSIVE, UNTESTABLE, VERDICTS, holm

COLUMNS = 8  # claim, paper's figure, ours, raw p, Holm p, MDE, verdict, study
TOST = re.compile(r"^(?P<p>[^;]+)(?:; TOST ±[^:]+: (?P<tost>.+))?$")


@dataclasses.dataclass(frozen=True)
class PageClaim:
    """A claim as a page reports it: its raw p-values (NaN: not tested) and verdict."""

    text: str
    study: str
    p: float
    p_equivalence: float
    verdict: str


def _number(text):
    return math.nan if text.strip() == "-" else float(text)


def page_claims(page):
    """Every judged claim in `page`'s "Every claim" table (markdown text)."""
    _, _, table = page.partition("## Every claim")
    claims = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) != COLUMNS or not cells[6].startswith("**"):
            continue  # the header, its rule, or a study not yet run
        raw = TOST.match(cells[3])
        verdict = cells[6].strip("*")
        if verdict not in VERDICTS:
            raise ValueError(f"page row {cells[0]!r}: unknown verdict, got {cells[6]!r}")
        study = re.match(r"\[([^\]]+)\]", cells[7])
        claims.append(
            PageClaim(
                cells[0],
                study.group(1) if study else cells[7],
                _number(raw.group("p")),
                _number(raw.group("tost") or "-"),
                verdict,
            )
        )
    return claims


def rejudge(claims):
    """(claim, Holm p, Holm p of its TOST, verdict in the one family) of each of `claims`."""
    pvalues = []
    for claim in claims:
        tested = claim.verdict != UNTESTABLE
        pvalues += [claim.p if tested else math.nan, claim.p_equivalence if tested else math.nan]
    adjusted = holm(pvalues)
    judged = []
    for i, claim in enumerate(claims):
        p, p_equivalence = adjusted[2 * i], adjusted[2 * i + 1]
        if claim.verdict == EQUIVALENT:
            keeps = p_equivalence < ALPHA
        else:
            keeps = claim.verdict in (UNTESTABLE, INCONCLUSIVE) or p < ALPHA
        judged.append((claim, p, p_equivalence, claim.verdict if keeps else INCONCLUSIVE))
    return judged


def _p(value):
    return "-" if math.isnan(value) else f"{value:.2g}"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m experiments.studies.family",
        description="Holm's adjustment over the claims of several study pages, as one family.",
    )
    parser.add_argument("pages", nargs="+", help="studies.md pages the `study` command wrote")
    args = parser.parse_args(argv)
    claims = []
    for path in args.pages:
        with open(path, encoding="utf-8") as page:
            claims += page_claims(page.read())
    judged = rejudge(claims)
    counts = {v: sum(verdict == v for *_, verdict in judged) for v in VERDICTS}
    print(f"{len(judged)} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
    print("| study | claim | page's verdict | Holm p (one family) | verdict (one family) |")
    print("|---|---|---|---|---|")
    for claim, p, p_equivalence, verdict in judged:
        adjusted = _p(p) + ("" if math.isnan(p_equivalence) else f"; TOST: {_p(p_equivalence)}")
        print(f"| {claim.study} | {claim.text} | {claim.verdict} | {adjusted} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

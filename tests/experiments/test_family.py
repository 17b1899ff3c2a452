"""One family over several study pages: rows read as the page writes them,
Holm's adjustment checked against values computed by hand."""

import math
import pathlib
import re

import pytest

from experiments.studies import family

HEADER = (
    "# Which normalization when\n\n## Every claim\n\n"
    "| claim | paper's figure | ours: difference, claimed side > 0 [raw 95% CI] | raw p "
    "| Holm p | MDE | verdict | study |\n"
    "|---|---|---|---|---|---|---|---|\n"
    "| every claim of bn-lr | - | not yet run | - | - | - | - | [bn-lr](#study-bn-lr) |\n"
)


def row(text, raw, verdict, study="s"):
    return (
        f"| {text} | a figure | m: 1 [0, 2] vs 0 [0, 1]; difference +1 [0, 2] | {raw} | x | 0.1 "
        f"| **{verdict}** | [{study}](#study-{study}) |\n"
    )


FIRST = (
    HEADER
    + row("a beats b", "0.01", "supported")
    + row("c beats d", "0.02", "contradicted")
    + row("e matches f", "0.5; TOST ±0.01: 0.001", "equivalent")
    + row("g beats the floor", "-", "untestable", study="t")
)
SECOND = HEADER + row("h beats i", "0.003", "supported") + row("j beats k", "0.3", "inconclusive")


def test_a_page_row_gives_its_raw_p_values_verdict_and_study():
    claims = family.page_claims(FIRST)
    assert [c.text for c in claims] == [
        "a beats b",
        "c beats d",
        "e matches f",
        "g beats the floor",
    ]
    equivalent = claims[2]
    assert (equivalent.p, equivalent.p_equivalence, equivalent.verdict) == (
        0.5,
        0.001,
        "equivalent",
    )
    assert math.isnan(claims[0].p_equivalence) and math.isnan(claims[3].p)
    assert claims[3].study == "t"


def test_one_page_keeps_its_verdicts():
    # Tested: 0.001, 0.01, 0.02, 0.5 (m = 4) -> 0.004, 0.03, 0.04, 0.5.
    judged = family.rejudge(family.page_claims(FIRST))
    assert [j[1] for j in judged[:2]] == pytest.approx([0.03, 0.04])
    assert judged[2][2] == pytest.approx(0.004)
    assert [j[3] for j in judged] == ["supported", "contradicted", "equivalent", "untestable"]


def test_a_larger_family_turns_a_claim_past_alpha_inconclusive():
    # m = 6: 0.001 x 6 = 0.006, 0.003 x 5 = 0.015, 0.01 x 4 = 0.04, 0.02 x 3 = 0.06,
    # 0.3 x 2 = 0.6, 0.5 -> 0.6 (non-decreasing).
    judged = family.rejudge(family.page_claims(FIRST) + family.page_claims(SECOND))
    adjusted = {claim.text: (p, p_equivalence) for claim, p, p_equivalence, _ in judged}
    assert adjusted["a beats b"][0] == pytest.approx(0.04)
    assert adjusted["c beats d"][0] == pytest.approx(0.06)
    assert adjusted["e matches f"] == pytest.approx((0.6, 0.006))
    assert adjusted["h beats i"][0] == pytest.approx(0.015)
    assert adjusted["j beats k"][0] == pytest.approx(0.6)
    verdicts = {claim.text: verdict for claim, *_, verdict in judged}
    assert verdicts == {
        "a beats b": "supported",
        "c beats d": "inconclusive",
        "e matches f": "equivalent",
        "g beats the floor": "untestable",
        "h beats i": "supported",
        "j beats k": "inconclusive",
    }


def test_the_command_prints_the_counts_and_a_row_per_claim(tmp_path, capsys):
    pages = []
    for name, text in (("first.md", FIRST), ("second.md", SECOND)):
        pages.append(tmp_path / name)
        pages[-1].write_text(text)
    assert family.main([str(p) for p in pages]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6 claims: 2 supported, 1 equivalent, 2 inconclusive, 1 untestable\n")
    assert "| s | c beats d | contradicted | 0.06 | inconclusive |" in out
    assert "| s | e matches f | equivalent | 0.6; TOST: 0.006 | equivalent |" in out


def test_an_unknown_verdict_is_refused():
    with pytest.raises(ValueError, match="unknown verdict, got '\\*\\*maybe\\*\\*'"):
        family.page_claims(HEADER + row("a beats b", "0.01", "maybe"))


def test_the_committed_page_read_alone_keeps_every_verdict():
    page = (pathlib.Path(__file__).parents[2] / "docs" / "studies" / "studies.md").read_text()
    tested = int(re.search(r"family of the (\d+) claims tested on this page", page).group(1))
    claims = family.page_claims(page)
    assert sum(c.verdict != "untestable" and not math.isnan(c.p) for c in claims) == tested
    assert [verdict for *_, verdict in family.rejudge(claims)] == [c.verdict for c in claims]

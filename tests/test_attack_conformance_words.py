"""Attacks on issue 18's words and evidence (attacker-fixer, session 4).

The verdict phrase says what the matrix's MUST meter says: it counts what the meter counts
(``n/a`` and ``not-run`` left out) and never calls a column whose MUSTs were not judged, or
judged ``unsupported`` or with an outcome this reader does not know, one where "every MUST
holds".
"""

from __future__ import annotations

from conformance.results import must_verdict


def test_no_judged_must_is_not_every_must_holds() -> None:
    assert must_verdict([]) == "no MUST judged"
    assert must_verdict([("MUST", "not-run"), ("MUST", "n/a"), ("SHOULD", "pass")]) == (
        "no MUST judged"
    )


def test_unsupported_musts_are_named_as_the_meter_counts_them() -> None:
    # the matrix meter counts an unsupported MUST in its total, not as passed (27/28)
    verdict = must_verdict([("MUST", "pass")] * 27 + [("MUST", "unsupported")])
    assert verdict == "no unexpected MUST failure (1 unsupported)"


def test_an_unknown_outcome_is_not_a_pass() -> None:
    # a newer writer's outcome: the meter shows it as not passed, so it is not "holds"
    assert must_verdict([("MUST", "pass"), ("MUST", "exploded")]) == ("1 unexpected MUST failure")

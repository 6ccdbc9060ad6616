"""Substitutions written in words become variant specs (the reference base read from the sequence when the
words leave it out)."""

from __future__ import annotations

import pytest

from agrochat.chat.assistant import variant_spec_from_text

SEQ = "ACGT" * 42 + "AC"  # 170 bp: position 100 (1-based) is a T


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("what if I change position 120 from A to G?", "A120G"),
        ("changing position -50 from A to G", "A-50G"),
        ("what if I change the A at position 121 to G?", "A121G"),
        ("swap base 59 (C) for T: what happens", "C59T"),
        ("what would a C>T at position 159 do?", "C159T"),
        ("what if position 98 was a G instead?", "C98G"),
        ("what if position 100 became an A?", "T100A"),
        ("mutate position -3 from a to c", "A-3C"),
        ("G-30A please", "G-30A"),
        ("what if position 120 went from A to G?", "A120G"),
        ("how strong is it at 30 degrees?", ""),
        ("what if T->C at 98?", "T98C"),  # position 98 holds a C: parsing the spec says so
        ("what if C->T at 98?", "C98T"),
        ("-50 A>G: effect?", "A-50G"),
        ("85A>G", "A85G"),
        ("c.85A>G in my promoter", "A85G"),
        ("A85→G", "A85G"),
        ("snp A/G at position 85", "A85G"),
        ("replace position 61 with T", "A61T"),
        ("what does a G at 100 do", "T100G"),
        ("put a G at 5' end", ""),
        ("change TTTTTT -> TTGTTT", ""),  # the run is not in the sequence
    ],
)
def test_worded_substitutions(text, spec):
    assert variant_spec_from_text(text, SEQ) == spec


def test_a_rewritten_run_of_bases_is_a_substitution_wherever_the_sequence_holds_it():
    seq = "GG" + "AATAAA" + "C" * 30 + "AATAAA" + "GG"
    assert variant_spec_from_text("mutate AATAAA -> AAGAAA", seq) == "T5G T41G"
    assert (
        variant_spec_from_text("and if the AATAAA becomes AAGAAA? no, just knock out AATAAA", seq)
        == "ko:AATAAA"
    )


def test_a_worded_edit_is_named_without_a_sequence():
    from agrochat.chat.named import names_an_edit

    assert (
        names_an_edit("what if T->C at 150?") and names_an_edit("85A>G") and names_an_edit("AATAAA -> AAGAAA")
    )
    assert not names_an_edit("how strongly would this drive GFP in maize protoplasts?")


def test_a_missing_reference_base_outside_the_sequence_gives_no_edit():
    assert variant_spec_from_text("what if position 900 was a T?", SEQ) == ""


def test_the_rules_read_a_worded_substitution_as_a_variant():
    from agrochat.chat.dialogue import Resolver

    msgs = [
        {"role": "user", "content": f"How strong is this promoter in tobacco leaves? {SEQ}"},
        {"role": "assistant", "content": "Predicted strength in tobacco leaves: 1.00 ± 0.50."},
        {"role": "user", "content": "what if position 120 went from A to G?"},
    ]
    assert Resolver(["promoter_strength/leaf", "promoter_strength/protoplast"]).resolve(msgs).op == "variant"

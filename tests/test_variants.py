"""Variant specs, the model's own evidence (knockouts, mutagenesis) and design: known answers from scorers whose
output is known, then the same plumbing on a tiny random model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from agrochat.chat import Assistant
from agrochat.chat import variants as V
from agrochat.chat.assistant import variant_spec_from_text
from agrochat.chat.attribution import variant_effects
from agrochat.chat.design import DesignConfig, design
from agrochat.cli import app
from agrochat.domain.motifs import annotate, promoter_rel
from conftest import FIXTURES

rng = np.random.default_rng(7)
BACKGROUND = "".join(rng.choice(list("ACGT"), 170))
TATA = V.consensus("TATA")
WITH_TATA = BACKGROUND[:100] + TATA + BACKGROUND[100 + len(TATA) :]


def g_count(seqs, key):
    """Known answer: the value is the number of G bases (mutating a G lowers it by exactly 1)."""
    v = np.array([s.count("G") for s in seqs], dtype=float)
    return v, np.full(len(v), 0.1), [False] * len(v), [""] * len(v)


def has_tata(seqs, key):
    """Known answer: 2 with an intact TATA consensus, 0 without."""
    v = np.array([2.0 if TATA in s else 0.0 for s in seqs])
    return v, np.full(len(v), 0.1), [False] * len(v), [""] * len(v)


# ---- specs ---------------------------------------------------------------------------------------------------
def test_substitution_coordinates():
    seq = BACKGROUND
    i = V.coordinate("-", "30", len(seq), "promoter")
    assert promoter_rel(i, len(seq)) == -30
    spec = f"{seq[i]}-30{'A' if seq[i] != 'A' else 'C'}"
    (edit,) = V.parse(spec, seq)
    assert isinstance(edit, V.Substitution) and edit.index == i
    (one_based,) = V.parse(f"{seq[139]}140{'G' if seq[139] != 'G' else 'T'}", seq)
    assert one_based.index == 139
    plus = V.coordinate("+", "1", len(seq), "promoter")
    assert promoter_rel(plus, len(seq)) == 1 and plus == V.coordinate("-", "1", len(seq), "promoter") + 1
    assert V.coordinate("+", "0", 170, "terminator") == 85  # cleavage-site-relative: 0 is the central base


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "empty variant spec"),
        ("X5A", "cannot read variant"),
        ("G-3000A", "outside the sequence"),
        ("G171A", "outside the sequence"),
        ("A0C", "outside the sequence"),
        ("ko:TF_99", "finds no TF_99"),
        ("ko:banana", "unknown motif"),
        ("ins:TATA@-1", "does not fit"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(V.VariantError, match=message) as e:
        V.parse(spec, BACKGROUND)
    assert "\n" not in str(e.value)


def test_wrong_reference_base_and_position_zero():
    wrong = next(b for b in "ACGT" if b != BACKGROUND[9])
    with pytest.raises(V.VariantError, match=f"reference base at 10 is {BACKGROUND[9]}, not {wrong}"):
        V.parse(f"{wrong}10A", BACKGROUND)
    with pytest.raises(V.VariantError, match="no position 0"):
        V.parse("A-0C", BACKGROUND)


def test_knockout_insertion_and_overlap():
    ann = annotate(WITH_TATA)
    assert ann.get("TATA") is not None
    (ko,) = V.parse("ko:TATA", WITH_TATA, annotation=ann)
    out = V.apply(WITH_TATA, [ko], np.random.default_rng(0))
    h = ko.hit
    assert out[: h.start] == WITH_TATA[: h.start] and out[h.end :] == WITH_TATA[h.end :]
    assert all(a != b for a, b in zip(out[h.start : h.end], WITH_TATA[h.start : h.end], strict=True))
    (ins,) = V.parse("ins:TATA@-60", BACKGROUND)
    inserted = V.apply(BACKGROUND, [ins])
    assert TATA in inserted and len(inserted) == len(BACKGROUND)
    i = V.coordinate("-", "60", 170, "promoter")
    assert inserted[i - (len(TATA) - 1) // 2 :].startswith(TATA)
    base = WITH_TATA[h.start]
    with pytest.raises(V.VariantError, match="change the same base"):
        V.parse(f"ko:TATA {base}{h.start + 1}{'A' if base != 'A' else 'C'}", WITH_TATA)


def test_spec_from_chat_words():
    assert variant_spec_from_text("what if I mutate the TATA box?") == "ko:TATA"
    assert variant_spec_from_text("and G-30A and C12T?") == "G-30A C12T"
    assert variant_spec_from_text("insert a Y patch at -40") == "ins:Ypatch@-40"
    assert variant_spec_from_text("what if I mutate it?") == ""
    # user text is read case-insensitively, by the same parser as "what is a TATA box?"
    assert variant_spec_from_text("what if i knock out the tata box and the y-patch?") == "ko:TATA ko:Ypatch"
    assert variant_spec_from_text("destroy tf_45") == "ko:TF_45"
    assert variant_spec_from_text("remove the AATAAA-like signal") == "ko:AATAAA-like"


# ---- attribution with known answers ------------------------------------------------------------------------
def test_variant_effect_signs_and_uncertainty():
    seq = BACKGROUND
    g = seq.index("G")
    nog = next(i for i, b in enumerate(seq) if b != "G")
    (down,) = variant_effects(g_count, seq, "k", [("down", V.parse(f"G{g + 1}A", seq))])
    (up,) = variant_effects(g_count, seq, "k", [("up", V.parse(f"{seq[nog]}{nog + 1}G", seq))])
    assert down.delta == pytest.approx(-1) and up.delta == pytest.approx(1)
    assert down.uncertainty == pytest.approx(np.hypot(0.1, 0.1)) and down.exceeds and up.contribution == -1


def test_knockout_of_the_motif_that_makes_the_value():
    kos = V.knockout_edits(annotate(WITH_TATA))
    effects = variant_effects(has_tata, WITH_TATA, "promoter_strength/leaf", [(k.label, [k]) for k in kos], 4)
    by_name = {k.hit.name: (k, e) for k, e in zip(kos, effects, strict=True)}
    ko, eff = by_name["TATA"]
    assert eff.delta == pytest.approx(-2) and eff.contribution == pytest.approx(2)
    assert eff.replicates == 4 and eff.exceeds
    others = [
        e
        for k, e in zip(kos, effects, strict=True)
        if not (k.hit.start < ko.hit.end and ko.hit.start < k.hit.end)
    ]
    assert all(e.delta == 0 for e in others)  # motifs apart from the TATA box do not change it


# ---- design with known answers -----------------------------------------------------------------------------
def test_design_improves_monotonically_within_k():
    cfg = DesignConfig(up=("k",), max_mutations=4, keep=(0, 1, 2))
    res = design(g_count, BACKGROUND, cfg)
    vals = [s.values["k"] for s in res.steps]
    assert vals == [BACKGROUND.count("G") + r for r in range(5)]  # each round adds exactly one G
    best = res.best.sequence
    assert sum(a != b for a, b in zip(best, BACKGROUND, strict=True)) == len(res.best.mutations) <= 4
    assert best[:3] == BACKGROUND[:3]
    assert design(g_count, BACKGROUND, cfg).best.sequence == best  # deterministic given the seed
    weaker = design(g_count, BACKGROUND, DesignConfig(down=("k",), max_mutations=2))
    assert [s.values["k"] for s in weaker.steps] == [BACKGROUND.count("G") - r for r in range(3)]


def test_design_stops_when_nothing_improves_and_target():
    all_g = "G" * 40
    res = design(g_count, all_g, DesignConfig(up=("k",), max_mutations=3))
    assert len(res.steps) == 1 and "no single substitution improves" in res.stopped
    res = design(
        g_count, BACKGROUND, DesignConfig(up=("k",), target=BACKGROUND.count("G") + 2, max_mutations=5)
    )
    assert res.best.values["k"] == BACKGROUND.count("G") + 2 and len(res.best.mutations) == 2


def test_design_config_validation():
    with pytest.raises(V.VariantError):
        DesignConfig()
    with pytest.raises(V.VariantError):
        DesignConfig(up=("a",), down=("a",))
    with pytest.raises(V.VariantError):
        DesignConfig(up=("a",), max_mutations=0)


# ---- the same on a tiny random model -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def assistant(model_dir):
    return Assistant.from_pretrained(model_dir)


def test_assistant_explain_variant_design(assistant, promoters, tmp_path):
    seq = promoters[2]["sequence"]
    res = assistant.explain(seq, plot=tmp_path / "m.png", shuffles=4)
    assert res.effects.shape == (len(seq), 4) and res.text.startswith("For promoter strength")
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    res.to_tsv(tmp_path / "m.tsv")
    rows = (tmp_path / "m.tsv").read_text().splitlines()
    assert len(rows) == len(seq) + 1 and rows[0].startswith("position\trelative\tref")
    i = seq.index("A")
    eff = assistant.variant(seq, f"A{i + 1}C")
    j = "ACGT".index("C")
    assert eff.delta == pytest.approx(res.effects[i, j], abs=1e-4)  # the same number as the mutagenesis track
    pair = assistant.variant(seq, other=promoters[3]["sequence"])
    assert pair.delta == pytest.approx(pair.alt_value - pair.ref_value)
    d = assistant.design(seq, max_mutations=3, plot=tmp_path / "d.png")
    objective = [s.objective for s in d.steps]
    assert all(b > a for a, b in zip(objective, objective[1:], strict=False)) and len(d.steps) <= 4
    assert sum(a != b for a, b in zip(d.best.sequence, seq, strict=True)) <= 3
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(V.VariantError):
        assistant.design(seq, goal="faster")


def test_chat_routes_variants_and_design(assistant, promoters):
    seq = promoters[2]["sequence"]
    ans = assistant.chat(
        [{"role": "user", "content": f"What if I mutate the TATA box of {seq} in tobacco leaves?"}]
    )
    assert ans.intent.op == "variant"
    assert ("TATA knocked out" in ans.text) or ("finds no TATA" in ans.text)
    ans = assistant.chat(
        [{"role": "user", "content": f"Make this promoter stronger in tobacco leaves: {seq}"}]
    )
    assert ans.intent.op == "design" and "Greedy in-silico evolution" in ans.text


def test_a_rewrite_of_an_element_the_sequence_holds_only_as_a_motif_knocks_it_out(assistant):
    demo = (FIXTURES / "demo_promoter.fa").read_text().splitlines()[1]  # a TATA box, no literal TATA
    assert "TATA" not in demo
    ask = "What if I mutate TATA -> TTTT in tobacco leaves? "
    ans = assistant.chat([{"role": "user", "content": ask + demo}])
    assert ans.intent.op == "variant"
    assert "holds no literal TATA" in ans.text and "TATA knocked out" in ans.text
    ans = assistant.chat(
        [{"role": "user", "content": "What if I mutate GGGGGGGGG -> AAAAAAAAA in tobacco leaves? " + demo}]
    )
    assert "nothing to rewrite" in ans.text  # a run that names no element: said, no number


def test_cli_variant_design_explain(model_dir, promoters, tmp_path):
    seq = promoters[2]["sequence"]
    r = CliRunner().invoke(app, ["variant", "X5A", "-s", seq, "-m", str(model_dir)])
    assert r.exit_code == 2 and "cannot read variant" in r.output
    i = seq.index("C")
    r = CliRunner().invoke(app, ["variant", f"C{i + 1}T", "-s", seq, "-m", str(model_dir), "--json"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["design", "-s", seq, "-m", str(model_dir), "-k", "2"])
    assert r.exit_code == 0 and ("round 2" in r.output or "stopped" in r.output)
    r = CliRunner().invoke(
        app, ["explain", seq, "-m", str(model_dir), "--tsv", str(tmp_path / "e.tsv"), "--json"]
    )
    assert r.exit_code == 0 and (tmp_path / "e.tsv").is_file()
    out = json.loads(r.stdout)
    assert {"prediction", "explanation", "regions", "attribution"} <= set(out) and len(
        out["attribution"]
    ) == len(seq)
    for reg in out["regions"]:  # 1-based, inclusive
        assert seq[reg["start"] - 1 : reg["end"]] == reg["sequence"] and isinstance(reg["matches"], list)
    r = CliRunner().invoke(app, ["explain", seq, "-m", str(model_dir), "--attribution", "deeplift_shap"])
    assert r.exit_code == 2 and "ism" in r.output  # the tiny AgroNT-style model has no one-hot gradients


def test_repl_variant_and_design(assistant, promoters):
    from agrochat.chat.cli import Repl

    out: list[str] = []
    repl = Repl(assistant, None, None, echo=out.append)
    seq = promoters[2]["sequence"]
    repl.handle(f"/seq {seq}")
    i = seq.index("G")
    repl.handle(f"/variant G{i + 1}A")
    assert "G->A at" in out[-1] and "change" in out[-1]
    repl.handle("/variant X1A")  # a bad spec: one line, the REPL goes on
    assert out[-1].startswith("error:") and "cannot read variant" in out[-1]
    repl.handle("/design 2")
    assert "round 0: start" in out[-1] and "designed:" in out[-1]


def test_a_missing_element_names_what_was_found_briefly():
    assert V._found([]) == "none"
    found = V._found(["TF_11", "TF_2", "Ypatch", "TF_5", "TF_9", "TF_13", "TATA"])
    assert found == "TATA, Ypatch, TF_11, TF_13, TF_2 and 2 more profiles"

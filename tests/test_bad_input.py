"""Every bad-input case of ``docs/bad_input.md``, through every entry point its row names.

The doc's table is the test list: a row without a runner here, or a runner without a row, fails
``test_doc_table_is_the_test_list``.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agrochat.chat import Assistant
from agrochat.chat.cli import Repl
from agrochat.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bad_input.md"
GOOD = "TATAAATACGCATGCAGCTAGCTAGCTAGGCTACGATCGATCGTACGTAGCTAGCTAGCATCGATCGA"


def doc_rows() -> dict[str, list[str]]:
    """case -> entry points, read from the markdown table."""
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"\| `(\w+)` \|.*\| ([a-z, ]+) \|$", line)
        if m:
            rows[m.group(1)] = [e.strip() for e in m.group(2).split(",")]
    return rows


# ---- cases: what goes in, what must come out ----------------------------------------------------------------
# sequence cases: (sequence, task, tissue, expected) where expected is ("ok", normalised) or ("error", fragment)
SEQ_CASES = {
    "empty": ("", "promoter_strength", "leaf", ("error", "empty")),
    "whitespace": ("ACGT ACG\nTAC\tGT", "promoter_strength", "leaf", ("ok", "ACGTACGTACGT")),
    "lowercase": ("acgtacgt", "promoter_strength", "leaf", ("ok", "ACGTACGT")),
    "rna": ("ACGUACGU", "promoter_strength", "leaf", ("ok", "ACGTACGT")),
    "iupac": ("ACGRYKMACGT", "promoter_strength", "leaf", ("ok", "ACGNNNNACGT")),
    "digits": ("ACG7TACGT", "promoter_strength", "leaf", ("error", "position 4")),
    "punctuation": ("ACGT-ACGT", "promoter_strength", "leaf", ("error", "position 5")),
    "too_long": ("ACGT" * 1750, "promoter_strength", "leaf", ("error", "encoder window")),
    "unknown_tissue": (GOOD, "promoter_strength", "moon", ("error", "moon")),
    "unknown_task": (GOOD, "enhancer_activity", "leaf", ("error", "enhancer_activity")),
}


# FASTA cases: file name, bytes written (None: no file), expected
FASTA_CASES = {
    "fasta_no_header": ("x.fa", b"ACGT\n", ("error", "before the first '>'")),
    "fasta_duplicate_ids": ("x.fa", b">a\nACGT\n>a\nACGT\n", ("error", ":3: duplicate id 'a'")),
    "fasta_empty_record": ("x.fa", b">a\n>b\nACGT\n", ("error", ":1: record 'a' has no sequence")),
    "fasta_empty_file": ("x.fa", b"", ("error", "no FASTA records")),
    "fasta_crlf": ("x.fa", b">a\r\nACGTAC\r\nGTACGT\r\n", ("ok", "ACGTACGTACGT")),
    "fasta_gzip": ("x.fa.gz", gzip.compress(b">a\nacgtacgt\n"), ("ok", "ACGTACGT")),
    "fasta_binary": ("x.fa", bytes(range(256)) * 4, ("error", "not a readable text FASTA")),
    "fasta_missing": ("nowhere.fa", None, ("error", "no such file")),
}
ASK_CASES = [
    "dna_tag_without_sequence",
    "more_tags_than_sequences",
    "sequence_without_tag",
    "pasted_sequence",
    "no_sequence_at_all",
]
BUILDER_TESTS = {  # rows tested in the data builder's own test files
    "builder_bad_sequence": ["test_non_acgt_sequence_names_file_and_line", "test_skip_counts_bad_rows"],
    "builder_empty_label": ["test_empty_label_names_file_and_line"],
    "builder_missing_column": ["test_missing_column_names_file_and_header_line"],
    "builder_missing_dir": ["test_cli_missing_data_dir_is_one_line"],
}


def test_doc_table_is_the_test_list():
    rows = doc_rows()
    here = set(SEQ_CASES) | set(FASTA_CASES) | set(ASK_CASES) | set(BUILDER_TESTS)
    assert set(rows) == here, set(rows) ^ here
    sources = "".join(p.read_text() for p in (ROOT / "tests").glob("test_data_*.py"))
    for case, tests in BUILDER_TESTS.items():
        assert rows[case] == ["builder"]
        for t in tests:
            assert f"def {t}(" in sources, t


# ---- entry points ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def assistant(model_dir):
    return Assistant.from_pretrained(model_dir)


def _repl(assistant) -> tuple[Repl, list[str]]:
    lines: list[str] = []
    return Repl(assistant, None, None, echo=lines.append), lines


def _check_repl_error(repl: Repl, lines: list[str], command: str, fragment: str) -> None:
    assert repl.handle(command) is True  # keeps running
    errors = [x for x in lines if x.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0] and "\n" not in errors[0], lines
    lines.clear()
    assert repl.handle("/help") is True and "Commands" in lines[-1]  # and still answers


def _check_cli(args: list[str], expected: tuple[str, str]) -> str:
    r = CliRunner().invoke(app, args)
    if expected[0] == "ok":
        assert r.exit_code == 0, r.output
    else:
        assert r.exit_code == 2, r.output
        assert "Traceback" not in r.output and expected[1] in r.output.replace("\n", ""), r.output
    return r.output


@pytest.mark.parametrize("case", sorted(SEQ_CASES))
def test_sequence_cases(case, assistant, model_dir):
    seq, task, tissue, expected = SEQ_CASES[case]
    entries = doc_rows()[case]
    if "api" in entries:
        if expected[0] == "ok":
            assert assistant.predict(seq, task=task, tissue=tissue)[0].sequence == expected[1]
        else:
            with pytest.raises((ValueError, KeyError), match=re.escape(expected[1])):
                assistant.predict(seq, task=task, tissue=tissue)
    if "cli" in entries:
        out = _check_cli(
            [
                "predict",
                "--model",
                str(model_dir),
                "--sequence",
                seq,
                "--task",
                task,
                "--tissue",
                tissue,
                "--format",
                "jsonl",
                "--no-explanations",
            ],
            expected,
        )
        if expected[0] == "ok":
            assert json.loads(out.strip().splitlines()[-1])["sequence"] == expected[1]
    if "repl" in entries:
        repl, lines = _repl(assistant)
        if case.startswith("unknown_"):
            command = f"/tissue {tissue}" if case == "unknown_tissue" else f"/task {task}"
            _check_repl_error(repl, lines, command, expected[1])
        elif expected[0] == "ok":
            assert repl.handle(f"/seq {seq}") and repl.seq == expected[1]
        else:
            _check_repl_error(repl, lines, f"/seq {seq}", expected[1])
    if "tool" in entries:
        from agrochat.chat.langchain import make_promoter_strength_tool

        out = json.loads(
            make_promoter_strength_tool(assistant).invoke({"sequence": seq, "task": task, "tissue": tissue})
        )
        if expected[0] == "ok":
            assert out["sequence"] == expected[1] and "value" in out
        else:
            assert expected[1] in out["error"]


@pytest.mark.parametrize("case", sorted(FASTA_CASES))
def test_fasta_cases(case, assistant, model_dir, tmp_path):
    name, content, expected = FASTA_CASES[case]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    entries = doc_rows()[case]
    assert entries == ["api", "cli", "repl"]
    if expected[0] == "ok":
        assert [p.sequence for p in assistant.predict(path)] == [expected[1]]
    else:
        with pytest.raises((ValueError, FileNotFoundError), match=re.escape(expected[1])):
            assistant.predict(path)
    _check_cli(["predict", "--model", str(model_dir), "--fasta", str(path), "--no-explanations"], expected)
    repl, lines = _repl(assistant)
    if expected[0] == "ok":
        assert repl.handle(f"/load {path}") and repl.seq == expected[1]
    else:
        _check_repl_error(repl, lines, f"/load {path}", expected[1])


def test_ask_cases(assistant, capsys):
    from langchain_core.messages import HumanMessage

    from agrochat.chat.langchain import AgrochatChatModel

    rows = doc_rows()
    assert all(set(rows[c]) <= {"api", "repl", "lc"} for c in ASK_CASES)
    q = "How strongly is this promoter expressed in tobacco leaf?"
    llm = AgrochatChatModel(assistant=assistant, max_new_tokens=8)
    pred = assistant.predict(GOOD)[0]

    # dna_tag_without_sequence
    with pytest.raises(ValueError, match="0 sequence"):
        assistant.ask("How strong is <dna>?")
    repl, lines = _repl(assistant)
    _check_repl_error(repl, lines, "How strong is <dna> in tobacco leaf?", "0 sequence")
    with pytest.raises(ValueError, match="0 sequence"):
        llm.invoke([HumanMessage(content="How strong is <dna> in tobacco leaf?")])

    # more_tags_than_sequences
    with pytest.raises(ValueError, match=r"2 <dna> placeholder\(s\) but 1 sequence"):
        assistant.ask("Compare <dna> with <dna> in tobacco leaf.", dna=GOOD)

    # sequence_without_tag
    ans = assistant.ask(q, dna=GOOD)
    assert pred.text in ans.text
    repl, lines = _repl(assistant)
    repl.handle(f"/seq {GOOD}")
    repl.handle(q)
    assert pred.text in capsys.readouterr().out

    # pasted_sequence (any case)
    assert pred.text in assistant.ask(f"{q} {GOOD.lower()}").text
    repl, lines = _repl(assistant)
    repl.handle(f"{q} {GOOD.lower()}")
    assert pred.text in capsys.readouterr().out
    assert pred.text in llm.invoke([HumanMessage(content=f"{q} {GOOD}")]).content

    # no_sequence_at_all: a request for a sequence, never a number
    for text in (
        assistant.chat([{"role": "user", "content": q}]).text,
        llm.invoke([HumanMessage(content=q)]).content,
    ):
        assert "sequence" in text.lower() and not re.search(r"\d\.\d", text), text
    repl, lines = _repl(assistant)
    repl.handle(q)
    out = capsys.readouterr().out
    assert "sequence" in out.lower() and not re.search(r"\d\.\d", out), out

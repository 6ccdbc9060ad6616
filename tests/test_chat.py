"""Assistant API, CLI and LangChain model on a tiny random model (numbers are meaningless, plumbing is not)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from agrochat.bridge import DnaSequenceError
from agrochat.chat import Assistant, FastaError
from agrochat.cli import app
from agrochat.errors import UnknownTaskError


@pytest.fixture(scope="module")
def assistant(model_dir):
    return Assistant.from_pretrained(model_dir)


def test_predict_fields_and_batch_consistency(assistant, promoters):
    seqs = [r["sequence"] for r in promoters[:5]]
    preds = assistant.predict(seqs, tissue="leaf", batch_size=2)
    spec = assistant.registry.get("promoter_strength/leaf")
    for p in preds:
        assert np.isfinite(p.value) and p.uncertainty > 0
        assert 0 <= p.percentile <= 100 and p.level in spec.levels
        assert p.unit == spec.unit and p.text == spec.format_value(p.value, p.uncertainty)
        names = {m["name"] for m in p.motifs}
        for neg, mention in re.findall(
            r"(no |lacks? (?:an? |the )?)?(TATA box|\bInr\b|TCT motif|Y patch|BREu|BREd)", p.explanation
        ):
            short = {"TATA box": "TATA", "TCT motif": "TCT", "Y patch": "Ypatch"}.get(mention, mention)
            assert (short not in names) if neg else (short in names), (mention, names, p.explanation)
    one = assistant.predict(seqs[3], tissue="leaf")[0]
    assert one.value == pytest.approx(preds[3].value, abs=1e-4)  # padding in a batch does not change results


def test_long_sequences_come_in_token_budget_batches(assistant, promoters, monkeypatch):
    short = [r["sequence"] for r in promoters[:4]]
    long = ("".join(short) * 10)[:6000]
    seqs = [short[0], long, short[1], long, long, short[2]]
    sizes = []
    numbers, count = assistant._numbers, assistant.model.dna_tokenizer.count
    monkeypatch.setattr(
        assistant, "_numbers", lambda s, k: sizes.append(max(map(count, s)) * len(s)) or numbers(s, k)
    )
    budget = 2 * count(long)  # two 6-kb sequences per batch at most
    preds = assistant.predict(seqs, tissue="leaf", batch_size=32, max_tokens=budget, explanations=False)
    assert [p.sequence for p in preds] == seqs and max(sizes) <= budget and len(sizes) >= 3
    monkeypatch.undo()
    alone = [assistant.predict(s, tissue="leaf", explanations=False)[0].value for s in seqs]
    assert [p.value for p in preds] == pytest.approx(alone, abs=1e-4)


def test_predict_inputs_and_errors(assistant, promoters, tmp_path):
    fa = tmp_path / "x.fa"
    fa.write_text(
        ">a\r\n"
        + promoters[0]["sequence"][:80]
        + "\r\n"
        + promoters[0]["sequence"][80:]
        + "\r\n>b\r\nacgu\r\n"
    )
    preds = assistant.predict(fa)
    assert [p.id for p in preds] == ["a", "b"] and preds[1].sequence == "ACGT"
    with pytest.raises(DnaSequenceError, match="position 3"):
        assistant.predict("AC!GT")
    with pytest.raises(FastaError, match="before the first"):
        (tmp_path / "bad.fa").write_text("ACGT\n")
        assistant.predict(tmp_path / "bad.fa")
    with pytest.raises(UnknownTaskError, match="answers for"):
        assistant.predict("ACGT", task="tissue_expression", tissue="primary root")
    with pytest.raises(UnknownTaskError):
        assistant.predict("ACGT", tissue="moon")


def test_ask_number_equals_predict(assistant, promoters):
    seq = promoters[2]["sequence"]
    ans = assistant.ask("How strongly is this promoter expressed in tobacco leaf?", dna=seq)
    pred = assistant.predict(seq, tissue="leaf")[0]
    assert ans.key == "promoter_strength/leaf"
    assert pred.text in ans.text
    assert ans.predictions[0].value == pytest.approx(pred.value, abs=1e-5)
    streamed = "".join(
        assistant.ask("How strongly is this promoter expressed in tobacco leaf?", dna=seq, stream=True)
    )
    assert streamed == ans.text
    pasted = assistant.ask(f"How strong is this terminator in maize protoplasts? {seq.lower()}")
    assert pasted.key == "terminator_strength/protoplast"
    refused = assistant.ask("How strongly is this promoter expressed in root?", dna=seq)
    assert refused.intent.op == "refuse" and not refused.predictions and "root" in refused.text
    assert assistant.ask("How strong is this promoter?").intent.op == "need_dna"


def test_explain_mutagenesis_and_plot(assistant, promoters, tmp_path):
    seq = promoters[4]["sequence"][:60]
    res = assistant.explain(seq, top=2, plot=tmp_path / "logo.png", heatmap=tmp_path / "heat.png")
    assert res.effects.shape == (60, 4) and res.per_base.shape == (60,) and res.attribution.shape == (60,)
    ref = np.array(["ACGT".index(c) for c in seq])
    assert np.all(res.effects[np.arange(60), ref] == 0)
    # ISM attribution (tangermeme's convention): minus a quarter of the substitutions' summed change
    assert np.allclose(res.attribution, -res.effects.sum(1) / 4)
    for r in res.regions:  # seqlets inside the sequence, each with its shuffled effect
        assert 0 <= r.start < r.end <= 60 and r.sequence == seq[r.start : r.end]
    assert [abs(r.effect) for r in res.regions] == sorted((abs(r.effect) for r in res.regions), reverse=True)
    for name in ("logo.png", "heat.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_chat_followup_explains_with_the_models_regions(assistant, promoters):
    seq = promoters[1]["sequence"]
    first = assistant.chat(
        [{"role": "user", "content": f"How strong is this promoter in tobacco leaves? {seq}"}]
    )
    assert first.predictions
    why = assistant.chat(
        [
            {"role": "user", "content": f"How strong is this promoter in tobacco leaves? {seq}"},
            {"role": "assistant", "content": first.text},
            {"role": "user", "content": "Why?"},
        ]
    )
    assert why.intent.op == "explain" and first.predictions[0].text in why.text
    assert "In-silico mutagenesis" in why.text and "relative to the TSS" in why.text
    assert why.predictions[0].value == pytest.approx(first.predictions[0].value, abs=1e-5)


def test_cli_predict_and_errors(model_dir, promoters, tmp_path):
    runner = CliRunner()
    seq = promoters[0]["sequence"]
    r = runner.invoke(app, ["predict", "--model", str(model_dir), "--sequence", seq, "--sequence", seq[:100]])
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("id\tkey\tvalue") and len(lines) == 3
    r = runner.invoke(app, ["predict", "--model", str(model_dir), "--sequence", "ACXGT"])
    assert r.exit_code == 2 and "position 3" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["predict", "--model", str(model_dir), "--sequence", seq, "--tissue", "moon"])
    assert r.exit_code == 2 and "moon" in r.output
    out = tmp_path / "p.jsonl"
    fa = tmp_path / "in.fa"
    fa.write_text("".join(f">s{i}\n{r['sequence']}\n" for i, r in enumerate(promoters[:4])))
    r = runner.invoke(
        app, ["predict", "--model", str(model_dir), "--fasta", str(fa), "--format", "jsonl", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    full = out.read_text().splitlines()
    out.write_text("\n".join(full[:2]) + "\n" + full[2][:10])  # an interrupted run: 2 rows + a cut line
    r = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(model_dir),
            "--fasta",
            str(fa),
            "--format",
            "jsonl",
            "-o",
            str(out),
            "--resume",
        ],
    )
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["s0", "s1", "s2", "s3"]


def test_cli_chat_question_and_stdin(model_dir, promoters):
    runner = CliRunner()
    seq = promoters[0]["sequence"]
    r = runner.invoke(
        app,
        [
            "chat",
            "--model",
            str(model_dir),
            "--sequence",
            seq,
            "--question",
            "How strongly is this promoter expressed in tobacco leaf?",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "log2 units relative to the 35S minimal promoter" in r.stdout
    script = f"/bogus\n/seq {seq}\n/tissue moon\nHow strong is this terminator in maize protoplasts?\n/explain\n/quit\n"
    r = runner.invoke(app, ["chat", "--model", str(model_dir)], input=script)
    assert r.exit_code == 0, r.output
    assert "unknown command" in r.stdout and "moon" in r.stdout and "maize leaf protoplasts" in r.stdout
    assert (
        "relative to the 35S terminator" in r.stdout.split("window")[0].split("prediction:")[-1]
    )  # /explain follows the last answer's task


def test_cli_chat_in_a_real_process_reads_stdin(model_dir, promoters):
    seq = promoters[0]["sequence"]
    proc = subprocess.run(
        [sys.executable, "-m", "agrochat", "chat", "--model", str(model_dir)],
        input=f"How strongly is this promoter expressed in tobacco leaf? {seq}\n/quit\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "percentile" in proc.stdout


def test_langchain_model_and_tool(assistant, promoters):
    from langchain_core.messages import HumanMessage

    from agrochat.chat.langchain import AgrochatChatModel, make_promoter_strength_tool

    seq = promoters[0]["sequence"]
    llm = AgrochatChatModel(assistant=assistant, max_new_tokens=8)
    msg = llm.invoke(
        [HumanMessage(content=f"How strongly is this promoter expressed in tobacco leaf? {seq}")]
    )
    pred = assistant.predict(seq)[0]
    assert pred.text in msg.content
    assert msg.response_metadata["predictions"][0]["value"] == pytest.approx(pred.value, abs=1e-5)
    chunks = list(
        llm.stream([HumanMessage(content=f"How strongly is this promoter expressed in tobacco leaf? {seq}")])
    )
    assert "".join(c.content for c in chunks) == msg.content
    tool = make_promoter_strength_tool(assistant)
    out = json.loads(tool.invoke({"sequence": seq, "tissue": "protoplast"}))
    assert out["key"] == "promoter_strength/protoplast" and "value" in out
    assert "error" in json.loads(tool.invoke({"sequence": "ACGT!", "tissue": "leaf"}))


def test_eval_fast_path_beside_cnn_and_ridge(assistant, tmp_path):
    from agrochat.chat.evaluate import evaluate_fast, markdown_table
    from agrochat.data_gen.paths import FIXTURES_DIR
    from agrochat.data_gen.regression import load_regression_rows

    data = FIXTURES_DIR / "mini_data"
    res = evaluate_fast(assistant, data, "test", keys=["promoter_strength/leaf", "terminator_strength/leaf"])
    rows = load_regression_rows(data, "test", keys=["promoter_strength/leaf"])
    leaf = res["promoter_strength/leaf"]
    assert leaf["n"] == len(rows)
    assert leaf["cnn"]["n"] == sum(r["baseline"] is not None for r in rows) == leaf["ours_on_cnn_rows"]["n"]
    assert "r2" in leaf["ridge"] and "r2" in leaf["ours"]
    table = markdown_table(res)
    assert table.count("\n") == 3 and "terminator_strength/leaf" in table
    from agrochat.chat.evaluate import published_table
    from agrochat.chat.report import write_plots

    assert "AgroNT" in published_table(res) and "0.85" in published_table(res)
    pts = res["promoter_strength/leaf"]["points"]
    assert len(pts["pred"]) == len(pts["target"]) == leaf["n"]
    for png in write_plots(res, tmp_path / "plots"):
        assert png.read_bytes()[:4] == b"\x89PNG", png


@pytest.fixture(scope="module")
def dna_readout_assistant(tmp_path_factory, dna_tokenizer, text_tokenizer):
    """A tiny random model whose head reads the DNA only (``readout=dna``, as the shipped configs): the number the
    chat writes at ``<num>`` is the fast path's, whatever the wording."""
    from agrochat.bridge import NumericHeadConfig, build_model
    from agrochat.domain.registry import load_registry
    from conftest import CHAT_KEYS, tiny_config

    torch.manual_seed(0)
    head = NumericHeadConfig(
        keys=CHAT_KEYS, norm={k: [0.0, 1.0] for k in CHAT_KEYS}, hidden=32, readout="dna"
    )
    path = tmp_path_factory.mktemp("tiny_dna") / "model"
    build_model(
        tiny_config(numeric_head=head), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer
    ).save_pretrained(path)
    load_registry().to_json(path / "registry.json")
    return Assistant.from_pretrained(path)


def test_eval_through_generation_parses_numbers(dna_readout_assistant):
    from agrochat.chat.evaluate import evaluate_generated
    from agrochat.data_gen.paths import FIXTURES_DIR

    assistant = dna_readout_assistant
    model = assistant.model
    im_end = model.tokenizer.convert_tokens_to_ids("<|im_end|>")
    state = {"step": 0}

    def force(module, args, output):  # the tiny random decoder answers "<num>" and stops, every time
        if output.logits.shape[1] > 1:
            state["step"] = 0  # a new prompt
        output.logits[:, -1, model.num_token_id if state["step"] == 0 else im_end] = 1e4
        state["step"] += 1
        return output

    handle = model.decoder.register_forward_hook(force)
    try:
        res = evaluate_generated(
            assistant,
            FIXTURES_DIR / "mini_data",
            "test",
            keys=["promoter_strength/leaf"],
            n=3,
            max_new_tokens=4,
        )
    finally:
        handle.remove()
    r = res["promoter_strength/leaf"]
    assert r["n"] == 3 and r["parse_failures"] == 0 and r["numbers_from_head"] == 3
    assert r["generated"]["n"] == 3
    # the generated answer is the fast path's number written with 2 decimals: each differs by at most the rounding
    assert r["agreement_with_fast_path"]["max_abs_diff"] <= 0.005 + 1e-9, r["agreement_with_fast_path"]


def test_eval_counts_answers_held_open_for_their_number(assistant):
    """A decoder that always wants to end first: held open, every answer gets its number and is counted; with
    free decoding every answer is a parse failure."""
    from agrochat.bridge.generate import stop_ids
    from agrochat.chat.evaluate import evaluate_generated
    from agrochat.data_gen.paths import FIXTURES_DIR

    model = assistant.model

    def end_first(module, args, output):  # ending is the first choice, <num> the second, at every step
        output.logits[:, -1, stop_ids(model.tokenizer)] = 2e4
        output.logits[:, -1, model.num_token_id] = 1e4
        return output

    handle = model.decoder.register_forward_hook(end_first)
    try:
        held, free = (
            evaluate_generated(
                assistant,
                FIXTURES_DIR / "mini_data",
                "test",
                keys=["promoter_strength/leaf"],
                n=3,
                max_new_tokens=4,
                require_numbers=r,
            )["promoter_strength/leaf"]
            for r in (True, False)
        )
    finally:
        handle.remove()
    assert held["parse_failures"] == 0 and held["answers_held_open"] == 3 and held["numbers_from_head"] == 3
    assert free["parse_failures"] == 3 and free["answers_held_open"] == 0 and not free["require_numbers"]


def test_cli_eval_report(model_dir, tmp_path):
    from agrochat.data_gen.paths import FIXTURES_DIR

    r = CliRunner().invoke(
        app,
        [
            "eval",
            "--model",
            str(model_dir),
            "--data-dir",
            str(FIXTURES_DIR / "mini_data"),
            "--key",
            "promoter_strength/leaf",
            "--limit",
            "20",
            "--generate",
            "2",
            "--report",
            str(tmp_path / "rep"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "Generated answers" in r.stdout and "Fast path" in r.stdout and "AgroNT" in r.stdout
    assert "held open" in r.stdout
    res = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert (
        res["promoter_strength/leaf"]["generation"]["n"] == 2 and 0 < res["promoter_strength/leaf"]["n"] <= 20
    )
    assert (tmp_path / "rep" / "scatter.png").is_file() and (tmp_path / "rep" / "calibration.png").is_file()


def test_text_model_answers_in_digits_and_refuses_predict(tmp_path, dna_tokenizer, text_tokenizer, promoters):
    from agrochat.bridge import NumericHeadConfig, build_model
    from agrochat.domain.registry import load_registry
    from conftest import tiny_config

    torch.manual_seed(0)
    keys = ["promoter_strength/leaf"]
    cfg = tiny_config(
        numeric="text", numeric_head=NumericHeadConfig(keys=keys, norm={keys[0]: [0.0, 1.0]}, hidden=8)
    )
    build_model(cfg, tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer).save_pretrained(tmp_path / "m")
    load_registry().to_json(tmp_path / "m" / "registry.json")
    a = Assistant.from_pretrained(tmp_path / "m")
    ans = a.ask(
        "How strongly is this promoter expressed in tobacco leaf?",
        dna=promoters[0]["sequence"],
        max_new_tokens=4,
    )
    assert ans.text and ans.predictions == []
    with pytest.raises(ValueError, match="numeric=text"):
        a.predict(promoters[0]["sequence"])


def test_langchain_as_users_expect(assistant, promoters):
    """Turns without DNA, system messages, batch, token-sized streaming, ToolMessage continuation, bind_tools, and
    a tool-calling flow with langchain-core only (a fake tool-calling model calls the agrochat tool)."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    from agrochat.chat.langchain import AgrochatChatModel, make_promoter_strength_tool

    seq = promoters[0]["sequence"]
    llm = AgrochatChatModel(assistant=assistant, max_new_tokens=8)
    hello = llm.invoke("hello")
    assert "paste" in hello.content and hello.response_metadata["operation"] == "greet"
    outs = llm.batch(["hello", f"How strong is this promoter in tobacco leaves? {seq}"])
    assert outs[1].response_metadata["key"] == "promoter_strength/leaf"
    with_system = llm.invoke(
        [SystemMessage(content="Answer briefly."), HumanMessage(content=f"Rate {seq} in tobacco")]
    )
    assert with_system.response_metadata["key"] == "promoter_strength/leaf"
    chunks = [c.content for c in llm.stream(f"How strong is this promoter in maize protoplasts? {seq}")]
    assert len(chunks) > 10 and max(len(c) for c in chunks) < 80
    with pytest.raises(NotImplementedError, match="make_promoter_strength_tool"):
        llm.bind_tools([make_promoter_strength_tool(assistant)])

    tool = make_promoter_strength_tool(assistant)
    call = {"name": "promoter_strength", "args": {"sequence": seq, "tissue": "protoplast"}, "id": "call-1"}
    agent = GenericFakeChatModel(messages=iter([AIMessage(content="", tool_calls=[call])]))
    history = [HumanMessage(content=f"How strong is this promoter in maize protoplasts? {seq}")]
    ai = agent.invoke(history)
    result = tool.invoke(ai.tool_calls[0]["args"])
    history += [ai, ToolMessage(content=result, tool_call_id="call-1", name="promoter_strength")]
    assert json.loads(result)["key"] == "promoter_strength/protoplast"
    final = llm.invoke(history)  # the conversation continues after the ToolMessage
    assert final.response_metadata["key"] == "promoter_strength/protoplast"
    assert f"{json.loads(result)['value']:.2f}" in final.content

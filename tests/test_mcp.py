"""``agrochat mcp``: the MCP server driven by the SDK's own client, over stdio (a subprocess serving the tiny
model) and in-process (tools whose keys the saved tiny model lacks)."""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch
from typer.testing import CliRunner

from conftest import CHAT_KEYS, LEAF, read_promoters, tiny_config

pytest.importorskip("mcp")

import anyio  # noqa: E402
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

TOOLS = {"predict", "compare", "rank", "explain", "variant", "design"}
TIMEOUT_S = 60


def _promoters() -> tuple[str, str]:
    """A real promoter (for the substitution) and one with an annotated TATA box (for the knockout)."""
    from agrochat.domain.motifs import annotate

    rows = read_promoters()
    with_tata = next(r["sequence"] for r in rows if annotate(r["sequence"]).get("TATA") is not None)
    return rows[0]["sequence"], with_tata


def _substitution(seq: str, pos: int = 140) -> tuple[str, str]:
    """A spec like ``A140G`` for ``seq`` (1-based) and the sequence it makes."""
    ref = seq[pos - 1]
    alt = next(b for b in "ACGT" if b != ref)
    return f"{ref}{pos}{alt}", seq[: pos - 1] + alt + seq[pos:]


async def _conversation(model_dir, seq: str, with_tata: str) -> dict:
    """One stdio session against ``python -m agrochat.chat.mcp_server``: every call the tests check."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "agrochat.chat.mcp_server", "--model", str(model_dir)],
        env=dict(os.environ),
    )
    spec, _ = _substitution(seq)
    out: dict = {}
    with anyio.fail_after(TIMEOUT_S):
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            out["init"] = await session.initialize()
            out["tools"] = (await session.list_tools()).tools
            out["predict"] = await session.call_tool("predict", {"sequences": [seq], "tissue": "leaf"})
            out["substitution"] = await session.call_tool("variant", {"sequence": seq, "spec": spec})
            out["knockout"] = await session.call_tool("variant", {"sequence": with_tata, "spec": "ko:TATA"})
            out["bad_dna"] = await session.call_tool("predict", {"sequences": ["ACGTXXXX"]})
            out["bad_task"] = await session.call_tool(
                "predict", {"sequences": [seq], "task": "photosynthesis"}
            )
            out["after_errors"] = await session.call_tool("predict", {"sequences": [seq]})
    return out


@pytest.fixture(scope="module")
def promoters2():
    return _promoters()


@pytest.fixture(scope="module")
def stdio(model_dir, promoters2):
    return anyio.run(_conversation, model_dir, *promoters2)


@pytest.fixture(scope="module")
def assistant(model_dir):
    from agrochat.chat import Assistant

    return Assistant.from_pretrained(model_dir)


def _text(result) -> str:
    return " ".join(c.text for c in result.content if c.type == "text")


def test_initialize_and_list_tools(stdio):
    assert stdio["init"].server_info.name == "agrochat"
    tools = {t.name: t for t in stdio["tools"]}
    assert set(tools) == TOOLS
    schema = tools["predict"].input_schema
    assert schema["properties"]["sequences"]["type"] == "array"
    assert schema["properties"]["sequences"]["items"] == {"type": "string"}
    assert schema["required"] == ["sequences"]
    assert schema["properties"]["task"]["default"] == "promoter_strength"
    assert set(tools["variant"].input_schema["required"]) == {"sequence", "spec"}
    assert tools["rank"].input_schema["properties"]["species"]["type"] == "string"
    for t in tools.values():
        assert t.description and t.output_schema is not None  # docstrings and structured results


def test_predict_equals_assistant(stdio, assistant, promoters2):
    seq = promoters2[0]
    res = stdio["predict"]
    assert not res.is_error
    data = res.structured_content
    assert data["key"] == LEAF and json.loads(_text(res)) == data  # the text block is the same JSON
    (row,) = data["predictions"]
    want = assistant.predict(seq, "promoter_strength", "leaf")[0]
    assert row["value"] == pytest.approx(want.value, abs=1e-4)
    assert row["uncertainty"] == pytest.approx(want.uncertainty, abs=1e-4)
    assert row["interval95"] == pytest.approx(list(want.interval95), abs=1e-4)
    assert (row["percentile"], row["level"], row["unit"]) == (want.percentile, want.level, want.unit)
    for field in ("interval68", "ood", "ood_reason"):
        assert field in row
    assert "attribution" not in row


def test_variant_substitution_and_knockout(stdio, assistant, promoters2):
    seq, with_tata = promoters2
    spec, edited = _substitution(seq)
    sub = stdio["substitution"]
    assert not sub.is_error, _text(sub)
    eff = sub.structured_content
    assert eff["label"] == spec and eff["key"] == LEAF and eff["alt_sequence"] == edited
    assert eff["ref_value"] == pytest.approx(assistant.predict(seq)[0].value, abs=1e-4)
    assert eff["alt_value"] == pytest.approx(assistant.predict(edited)[0].value, abs=1e-4)
    assert eff["delta"] == pytest.approx(eff["alt_value"] - eff["ref_value"], abs=2e-4)
    assert eff["exceeds"] == (abs(eff["delta"]) > eff["uncertainty"])
    ko = stdio["knockout"]
    assert not ko.is_error, _text(ko)
    want = assistant.variant(with_tata, "ko:TATA").to_dict()
    assert ko.structured_content == want  # same seed, same replacements


def test_user_errors_are_tool_errors(stdio):
    bad = stdio["bad_dna"]
    assert bad.is_error
    assert "invalid character 'X' at position 5" in _text(bad) and "seq1" in _text(bad)
    task = stdio["bad_task"]
    assert task.is_error and "unknown task 'photosynthesis'" in _text(task)
    assert not stdio["after_errors"].is_error  # the server kept running


def test_other_tools_in_process(dna_tokenizer, text_tokenizer, promoters2):
    """compare, rank, explain and design through the SDK's in-process client, on a tiny model that also has two
    maize tissue keys."""
    from mcp import Client

    from agrochat.bridge import NumericHeadConfig, build_model
    from agrochat.chat import Assistant
    from agrochat.chat.mcp_server import build_server
    from agrochat.domain.registry import load_registry

    tissues = ["tissue_expression/maize:primary root", "tissue_expression/maize:mature pollen"]
    keys = CHAT_KEYS + tissues
    torch.manual_seed(0)
    head = NumericHeadConfig(keys=keys, norm={k: [0.0, 1.0] for k in keys}, hidden=32)
    model = build_model(tiny_config(numeric_head=head), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer)
    a = Assistant(model, load_registry())
    seq, other = promoters2

    async def calls():
        async with Client(build_server(a)) as c:
            return {
                "compare": await c.call_tool("compare", {"sequences": [seq, other]}),
                "rank": await c.call_tool("rank", {"sequence": seq, "species": "Zea mays"}),
                "no_species": await c.call_tool("rank", {"sequence": seq, "species": "sorghum"}),
                "explain": await c.call_tool("explain", {"sequence": seq, "top": 2}),
                "design": await c.call_tool("design", {"sequence": seq, "max_mutations": 2}),
            }

    got = anyio.run(calls)
    cmp = got["compare"].structured_content
    values = {p["id"]: p["value"] for p in cmp["predictions"]}
    assert set(values) == {"seq1", "seq2"} and cmp["best"] == max(values, key=values.get)
    (diff,) = cmp["differences"]
    assert diff["below_best"] == pytest.approx(max(values.values()) - min(values.values()))

    rank = got["rank"].structured_content
    assert rank["species"] == "maize"
    assert [t["key"] for t in rank["tissues"]] == sorted(
        tissues, key=lambda k: -a.predict(seq, k, None)[0].value
    )
    assert {t["tissue"] for t in rank["tissues"]} == {"primary root", "mature pollen"}
    assert got["no_species"].is_error and "maize" in _text(got["no_species"])

    ex = got["explain"].structured_content
    assert len(ex["attribution"]) == len(seq) and ex["attribution_method"] == "ism" and ex["explanation"]
    assert ex["prediction"]["value"] == pytest.approx(a.predict(seq)[0].value, abs=1e-4)
    assert all(seq[r["start"] - 1 : r["end"]] == r["sequence"] for r in ex["regions"])

    des = got["design"].structured_content
    assert des["start_sequence"] == seq and len(des["mutations"]) <= 2
    assert des["best_value"] >= des["start_value"] and des["steps"][0]["mutations"] == []


def test_cli_registers_mcp():
    from agrochat.cli import app

    res = CliRunner().invoke(app, ["mcp", "--help"])
    assert res.exit_code == 0 and "--model" in res.output

"""``agrochat serve`` against the real server (uvicorn on loopback) with the shipped model: every endpoint,
streaming, bad input, overload, interleaved conversations, and the openai / LangChain clients."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, read_promoters

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from serve_util import free_port, running_server  # noqa: E402

LEAF, PROTO = "promoter_strength/leaf", "promoter_strength/protoplast"
ASK_LEAF = "How strongly is this promoter expressed in tobacco leaf?"


def demo_promoter() -> str:
    return "".join((FIXTURES / "demo_promoter.fa").read_text().splitlines()[1:])


@pytest.fixture(scope="module")
def assistant():
    from agrochat.chat import Assistant

    return Assistant.from_pretrained()


@pytest.fixture(scope="module")
def url(assistant):
    from agrochat.chat.serve import create_app

    with running_server(create_app(assistant)) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    with httpx.Client(base_url=url, timeout=120) as c:
        yield c


def direct(assistant, seqs, key=LEAF) -> list[dict]:
    """What ``agrochat predict --json`` writes for these sequences."""
    rows = []
    for p in assistant.predict(seqs, key, None):
        row = p.to_dict()
        row.pop("attribution")
        rows.append(row)
    return rows


def same_records(got: list[dict], want: list[dict]) -> None:
    assert [r["id"] for r in got] == [r["id"] for r in want]
    for g, w in zip(got, want, strict=True):
        assert set(g) == set(w)
        for k in w:
            assert g[k] == (pytest.approx(w[k], abs=1e-5) if isinstance(w[k], float) else w[k]), k


def chat(client, messages, **kw) -> dict:
    r = client.post("/v1/chat/completions", json={"model": "agrochat", "messages": messages, **kw})
    assert r.status_code == 200, r.text
    return r.json()


# ---- endpoints ---------------------------------------------------------------------------------------------------
def test_health_models_tasks_docs_page(client, assistant):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["model"] == "agrochat" and h["queue"]["pending"] == 0
    models = client.get("/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["agrochat"] and models["object"] == "list"
    assert client.get("/v1/models/agrochat").json()["id"] == "agrochat"
    tasks = client.get("/v1/tasks").json()
    assert [k["key"] for k in tasks["keys"]] == assistant.known_keys and tasks["default"] == LEAF
    spec = client.get("/openapi.json").json()
    for path in ("/v1/chat/completions", "/v1/models", "/v1/predict", "/v1/explain", "/health"):
        assert path in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    page = client.get("/")
    assert page.status_code == 200 and 'id="sequence"' in page.text
    for asset in ("/static/app.js", "/static/style.css", "/static/docs.js", "/docs", "/"):
        body = client.get(asset).text
        assert "https://" not in body and "http://" not in body, f"{asset} loads something from the network"


def test_predict_equals_predict_json(client, assistant):
    seqs = [r["sequence"] for r in read_promoters(3)]
    r = client.post("/v1/predict", json={"sequences": seqs, "task": "promoter_strength", "tissue": "leaf"})
    assert r.status_code == 200, r.text
    assert r.json()["key"] == LEAF
    same_records(r.json()["data"], direct(assistant, seqs))
    named = [{"id": "p1", "sequence": seqs[0]}]
    r = client.post("/v1/predict", json={"sequences": named, "task": PROTO, "explanations": False})
    assert r.json()["data"][0]["id"] == "p1"
    assert r.json()["data"][0]["value"] == pytest.approx(
        assistant.predict(seqs[:1], PROTO, None)[0].value, abs=1e-5
    )


def test_predict_fasta_text(client, assistant):
    rows = read_promoters(4)
    fasta = "".join(
        f">{r['id']} some description\n{r['sequence'][:80]}\n{r['sequence'][80:]}\n" for r in rows
    )
    r = client.post("/v1/predict", json={"fasta": fasta, "task": LEAF})
    assert r.status_code == 200, r.text
    same_records(r.json()["data"], direct(assistant, [(x["id"], x["sequence"]) for x in rows]))


def test_explain_has_plot_and_same_number(client, assistant):
    seq = demo_promoter()
    r = client.post("/v1/explain", json={"sequence": seq, "task": "promoter_strength", "tissue": "leaf"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert base64.b64decode(body["plot_png"]).startswith(b"\x89PNG") and body["heatmap_png"] is None
    heat = client.post("/v1/explain", json={"sequence": seq, "plot": False, "heatmap": True}).json()
    assert heat["plot_png"] is None and base64.b64decode(heat["heatmap_png"]).startswith(b"\x89PNG")
    assert (
        len(body["per_base"]) == len(body["attribution"]) == len(seq) and body["attribution_method"] == "ism"
    )
    assert body["explanation"].startswith("For promoter strength")
    for r in body["regions"]:  # 1-based, inclusive positions in the sequence
        assert seq[r["start"] - 1 : r["end"]] == r["sequence"] and {"effect", "matches"} <= set(r)
    assert body["prediction"]["value"] == pytest.approx(direct(assistant, [seq])[0]["value"], abs=1e-5)


def test_chat_completion_number_is_the_prediction(client, assistant):
    seq = demo_promoter()
    body = chat(client, [{"role": "user", "content": f"{ASK_LEAF}\n{seq}"}])
    assert body["object"] == "chat.completion" and body["model"] == "agrochat"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    want = direct(assistant, [seq])[0]
    assert f"{want['value']:.2f} ± {want['uncertainty']:.2f}" in choice["message"]["content"]
    pred = body["agrochat"]["predictions"][0]
    assert pred["key"] == LEAF and pred["value"] == pytest.approx(want["value"], abs=1e-5)
    assert "percentile" in pred and body["agrochat"]["operation"] == "predict"


def sse_events(client, payload) -> tuple[list[dict], list[str]]:
    with client.stream("POST", "/v1/chat/completions", json=payload) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]], lines


def test_streaming_sse_matches_plain_answer(client):
    messages = [{"role": "user", "content": f"{ASK_LEAF}\n{demo_promoter()}"}]
    events, _ = sse_events(client, {"model": "agrochat", "messages": messages, "stream": True})
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(e["object"] == "chat.completion.chunk" and e["id"] == events[0]["id"] for e in events)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    assert len(events) > 3 and text == chat(client, messages)["choices"][0]["message"]["content"]


def test_client_leaving_a_stream_frees_the_model(client):
    payload = {
        "model": "agrochat",
        "stream": True,
        "messages": [{"role": "user", "content": f"{ASK_LEAF}\n{demo_promoter()}"}],
    }
    with client.stream("POST", "/v1/chat/completions", json=payload) as r:
        assert next(r.iter_lines()).startswith("data: ")  # leave after the first event
    deadline = time.monotonic() + 30
    while client.get("/health").json()["queue"]["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/health").json()["queue"]["pending"] == 0
    assert chat(client, payload["messages"])["choices"][0]["finish_reason"] == "stop"


# ---- bad input ---------------------------------------------------------------------------------------------------
P = demo_promoter()
USER = [{"role": "user", "content": f"{ASK_LEAF}\n{P}"}]
BAD = [
    ("bad DNA", "/v1/predict", {"sequences": ["ACGTXXACGT"]}, 400),
    ("unknown tissue", "/v1/predict", {"sequences": [P], "tissue": "moon"}, 400),
    ("unknown task", "/v1/predict", {"sequences": [P], "task": "flowering_time"}, 400),
    ("too many sequences", "/v1/predict", {"sequences": ["ACGT" * 10] * 257}, 400),
    ("sequence too long", "/v1/predict", {"sequences": ["ACGT" * 300]}, 400),
    ("no sequences", "/v1/predict", {"sequences": []}, 400),
    ("neither", "/v1/predict", {"task": "promoter_strength"}, 400),
    ("both", "/v1/predict", {"sequences": [P], "fasta": f">a\n{P}\n"}, 400),
    ("unknown field", "/v1/predict", {"sequences": [P], "tisue": "leaf"}, 400),
    ("wrong type", "/v1/predict", {"sequences": "ACGT"}, 400),
    ("FASTA without header", "/v1/predict", {"fasta": "ACGTACGT\n"}, 400),
    ("FASTA duplicate id", "/v1/predict", {"fasta": f">a\n{P}\n>a\n{P}\n"}, 400),
    ("FASTA too many", "/v1/predict", {"fasta": "".join(f">r{i}\nACGTACGT\n" for i in range(257))}, 400),
    ("explain bad DNA", "/v1/explain", {"sequence": "hello world"}, 400),
    ("explain too long", "/v1/explain", {"sequence": "A" * 1001}, 400),
    ("wrong model", "/v1/chat/completions", {"model": "gpt-4o", "messages": USER}, 404),
    ("no messages", "/v1/chat/completions", {"model": "agrochat", "messages": []}, 400),
    (
        "last turn not user",
        "/v1/chat/completions",
        {"model": "agrochat", "messages": [*USER, {"role": "assistant", "content": "hi"}]},
        400,
    ),
    (
        "bad role",
        "/v1/chat/completions",
        {"model": "agrochat", "messages": [{"role": "robot", "content": "x"}]},
        400,
    ),
    ("too many messages", "/v1/chat/completions", {"model": "agrochat", "messages": USER * 65}, 400),
    (
        "message too long",
        "/v1/chat/completions",
        {"model": "agrochat", "messages": [{"role": "user", "content": "a " * 10_001}]},
        400,
    ),
    (
        "pasted DNA too long",
        "/v1/chat/completions",
        {"model": "agrochat", "messages": [{"role": "user", "content": f"{ASK_LEAF} {'ACGT' * 300}"}]},
        400,
    ),
    (
        "image part",
        "/v1/chat/completions",
        {
            "model": "agrochat",
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
        },
        400,
    ),
    ("n=2", "/v1/chat/completions", {"model": "agrochat", "messages": USER, "n": 2}, 400),
    (
        "bad DNA in chat",
        "/v1/chat/completions",
        {"model": "agrochat", "messages": [{"role": "user", "content": f"{ASK_LEAF} <dna>"}]},
        400,
    ),
    (
        "bad DNA in chat, streamed",
        "/v1/chat/completions",
        {"model": "agrochat", "stream": True, "messages": [{"role": "user", "content": f"{ASK_LEAF} <dna>"}]},
        400,
    ),
]


def assert_one_line_error(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "\n" not in r.text.strip()
    err = r.json()["error"]
    assert err["message"] and "\n" not in err["message"] and err["type"]
    return err


@pytest.mark.parametrize("name,path,body,status", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_one_line_4xx(client, name, path, body, status):
    assert_one_line_error(client.post(path, json=body), status)


def test_malformed_bodies_and_routes(client):
    raw = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    assert "JSON" in assert_one_line_error(client.post("/v1/predict", **raw), 400)["message"]
    assert_one_line_error(client.post("/v1/predict", content=b"x" * 2_000_001), 413)
    assert_one_line_error(client.get("/v1/nothing"), 404)
    assert_one_line_error(client.get("/v1/predict"), 405)
    assert_one_line_error(client.get("/v1/models/gpt-4o"), 404)
    assert client.get("/health").json()["queue"]["pending"] == 0


def test_nothing_left_in_the_temp_dir(client):
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("agrochat-serve-*"))
    client.post("/v1/predict", json={"fasta": f">a\n{P}\n"})
    client.post("/v1/explain", json={"sequence": P})
    assert set(Path(tempfile.gettempdir()).glob("agrochat-serve-*")) <= before


# ---- conversations, load -----------------------------------------------------------------------------------------
def test_interleaved_conversations_keep_their_own_context(client, assistant):
    s1, s2 = (r["sequence"] for r in read_promoters(2))
    a = [{"role": "user", "content": f"{ASK_LEAF}\n{s1}"}]
    b = [{"role": "user", "content": f"Promoter strength in maize protoplasts?\n{s2}"}]
    for convo in (a, b):
        convo.append(
            {"role": "assistant", "content": chat(client, convo)["choices"][0]["message"]["content"]}
        )
    a.append({"role": "user", "content": "And in maize protoplasts?"})
    b.append({"role": "user", "content": "And in tobacco leaf?"})
    answers: dict[str, dict] = {}
    threads = [
        threading.Thread(target=lambda n, c: answers.__setitem__(n, chat(client, c)), args=(n, c))
        for n, c in (("a", a), ("b", b))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got_a, got_b = (answers[n]["agrochat"]["predictions"][0] for n in "ab")
    assert (got_a["key"], got_a["sequence"]) == (PROTO, s1) and (got_b["key"], got_b["sequence"]) == (
        LEAF,
        s2,
    )
    assert got_a["value"] == pytest.approx(direct(assistant, [s1], PROTO)[0]["value"], abs=1e-5)
    assert got_b["value"] == pytest.approx(direct(assistant, [s2], LEAF)[0]["value"], abs=1e-5)


def test_overload_is_a_503_with_retry_after(assistant):
    from agrochat.chat.serve import ServeConfig, create_app

    app = create_app(assistant, ServeConfig(queue_size=1, retry_after_s=3))
    with running_server(app) as base, httpx.Client(base_url=base, timeout=120) as c:
        results: list = []

        def explain():
            results.append(c.post("/v1/explain", json={"sequence": P, "plot": False}))

        first = threading.Thread(target=explain)
        first.start()
        deadline = time.monotonic() + 10
        while c.get("/health").json()["queue"]["pending"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        flood = [threading.Thread(target=explain) for _ in range(5)]
        for t in flood:
            t.start()
        for t in [first, *flood]:
            t.join(timeout=60)
        codes = sorted(r.status_code for r in results)
        assert len(codes) == 6 and set(codes) <= {200, 503}, codes
        assert codes.count(200) >= 1 and codes.count(503) >= 3, codes  # capacity: 1 running + 1 waiting
        busy = next(r for r in results if r.status_code == 503)
        assert busy.headers["Retry-After"] == "3"
        assert_one_line_error(busy, 503)
        ok = [r.json()["prediction"]["value"] for r in results if r.status_code == 200]
        assert ok == pytest.approx([ok[0]] * len(ok))
        assert c.get("/health").json()["queue"]["pending"] == 0
        assert c.post("/v1/predict", json={"sequences": [P]}).status_code == 200  # serving again, no hang


def test_config_is_validated():
    from agrochat.chat.serve import ServeConfig
    from agrochat.chat.serve.app import is_loopback

    for bad in (
        {"queue_size": -1},
        {"max_sequences": 0},
        {"model_id": " "},
        {"default_max_new_tokens": 200, "max_new_tokens": 100},
    ):
        with pytest.raises(ValueError):
            ServeConfig(**bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


# ---- clients -----------------------------------------------------------------------------------------------------
def test_openai_client(url, assistant):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed")
    assert [m.id for m in client.models.list()] == ["agrochat"]
    want = direct(assistant, [P])[0]
    number = f"{want['value']:.2f} ± {want['uncertainty']:.2f}"
    done = client.chat.completions.create(model="agrochat", messages=USER)
    assert number in done.choices[0].message.content
    tok = assistant.model.tokenizer
    assert done.usage.completion_tokens == len(
        tok(done.choices[0].message.content, add_special_tokens=False)["input_ids"]
    )
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens > 0
    pieces = [
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="agrochat", messages=USER, stream=True)
        if c.choices
    ]
    assert len(pieces) > 2 and "".join(pieces) == done.choices[0].message.content
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="agrochat", messages=[{"role": "user", "content": "How strong? <dna>"}]
        )
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=USER)


def test_langchain_chat_openai(url, assistant):
    lc = pytest.importorskip("langchain_openai")
    from langchain_core.messages import HumanMessage, SystemMessage

    model = lc.ChatOpenAI(base_url=f"{url}/v1", api_key="not-needed", model="agrochat", max_retries=0)
    want = direct(assistant, [P])[0]
    messages = [SystemMessage("You are a plant biology assistant."), HumanMessage(f"{ASK_LEAF}\n{P}")]
    answer = model.invoke(messages)
    assert f"{want['value']:.2f} ± {want['uncertainty']:.2f}" in answer.content
    assert "".join(chunk.content for chunk in model.stream(messages)) == answer.content


@pytest.mark.slow
def test_agrochat_serve_command():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agrochat", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["status"] == "ok":
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "agrochat serve did not come up"
            time.sleep(0.5)
        r = httpx.post(f"http://127.0.0.1:{port}/v1/predict", json={"sequences": [P]}, timeout=60)
        assert r.status_code == 200 and r.json()["data"][0]["key"] == LEAF
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_api_key_guards_the_api_not_the_page(assistant):
    openai = pytest.importorskip("openai")
    from agrochat.chat.serve import ServeConfig, create_app

    key = "s3cret-key-123"
    with running_server(create_app(assistant, ServeConfig(api_key=key))) as base:
        with httpx.Client(base_url=base, timeout=120) as c:
            assert c.get("/").status_code == 200 and c.get("/health").status_code == 200
            missing = c.post("/v1/predict", json={"sequences": [P]})
            assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
            assert "missing API key" in missing.json()["error"]["message"]
            wrong = c.post(
                "/v1/predict", json={"sequences": [P]}, headers={"Authorization": "Bearer nope-nope"}
            )
            assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
            right = c.post("/v1/predict", json={"sequences": [P]}, headers={"Authorization": f"Bearer {key}"})
            assert right.status_code == 200 and right.json()["data"][0]["value"] == pytest.approx(
                direct(assistant, [P])[0]["value"], abs=1e-5
            )
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{base}/v1", api_key="not-the-key", max_retries=0).models.list()
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
        assert [m.id for m in client.models.list()] == ["agrochat"]
        done = client.chat.completions.create(model="agrochat", messages=USER)
        assert f"{direct(assistant, [P])[0]['value']:.2f}" in done.choices[0].message.content


def test_binding_beyond_loopback_needs_a_key_or_no_auth(capsys):
    from agrochat.chat.serve import ServeConfig
    from agrochat.chat.serve.app import check_exposure
    from agrochat.errors import ConfigError

    with pytest.raises(ConfigError, match="--api-key KEY .* or --no-auth"):
        check_exposure("0.0.0.0", ServeConfig(), no_auth=False)
    check_exposure("0.0.0.0", ServeConfig(api_key="long-enough-key"), no_auth=False)
    check_exposure("127.0.0.1", ServeConfig(), no_auth=False)
    check_exposure("0.0.0.0", ServeConfig(), no_auth=True)
    assert "without an API key (--no-auth)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="at least 8 characters"):
        ServeConfig(api_key="short")


def test_concurrent_predicts_are_batched_and_routed_back(assistant):
    from agrochat.chat.serve import ServeConfig, create_app

    seqs = [r["sequence"] for r in read_promoters(32)]
    want = {s: v["value"] for s, v in zip(seqs, direct(assistant, seqs), strict=True)}
    app = create_app(assistant, ServeConfig(batch_wait_ms=50))
    with running_server(app) as base, httpx.Client(base_url=base, timeout=120) as c:
        before = c.get("/health").json()["queue"]["predict_batches"]
        results: dict[str, httpx.Response] = {}

        def ask(s: str) -> None:
            results[s] = c.post("/v1/predict", json={"sequences": [{"id": "mine", "sequence": s}]})

        bad = "ACGTXX" * 30  # a bad character: this request fails alone, its batch-mates are answered
        threads = [threading.Thread(target=ask, args=(s,)) for s in [*seqs[:16], bad, *seqs[16:]]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert results.pop(bad).status_code == 400
        assert len(results) == 32 and all(r.status_code == 200 for r in results.values())
        for s, r in results.items():  # each answer is its own sequence's, not a neighbour's in the batch
            (row,) = r.json()["data"]
            assert row["id"] == "mine" and row["sequence"] == s
            assert row["value"] == pytest.approx(want[s], abs=1e-4)
        batches = c.get("/health").json()["queue"]["predict_batches"] - before
        assert 1 <= batches < 16, batches  # gathered, not one model job per request
        assert c.post("/v1/predict", json={"sequences": [P]}).status_code == 200  # the server goes on

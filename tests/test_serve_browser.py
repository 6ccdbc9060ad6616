"""The ``agrochat serve`` page in a real headless Chromium (Debian's ``chromium``, driven by playwright): paste a
promoter, ask, see the number and the mutagenesis plot; a follow-up keeps the conversation; a FASTA upload gives a
table and a TSV download. Writes the README screenshot ``docs/serve_screenshot.png``.

Run with ``make test-browser`` (``pytest -m browser``). Without chromium it is skipped, except in CI (``CI=true``),
where that is a failure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, read_promoters

pytestmark = pytest.mark.browser
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "serve_screenshot.png"
ASK_LEAF = "How strongly is this promoter expressed in tobacco leaf?"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("AGROCHAT_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def _need(what: str, ok: bool) -> None:
    if not ok:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{what} is missing on CI (make browser-deps installs chromium)")
        pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    _need("chromium", exe is not None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright", False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def served():
    from serve_util import running_server

    from agrochat.chat import Assistant
    from agrochat.chat.serve import create_app

    assistant = Assistant.from_pretrained()
    with running_server(create_app(assistant)) as url:
        yield url, assistant


def test_page_paste_ask_number_plot_followup_and_fasta_table(browser, served, tmp_path):
    url, assistant = served
    fasta = (FIXTURES / "demo_promoter.fa").read_text()
    seq = "".join(fasta.splitlines()[1:])
    leaf, proto = (
        assistant.predict([seq], k, None)[0]
        for k in ("promoter_strength/leaf", "promoter_strength/protoplast")
    )

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    external: list[str] = []
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith(url) or r.url.startswith(("data:", "blob:")) else external.append(r.url)
        ),
    )
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    assert page.locator("#key option").count() == len(assistant.known_keys)

    page.fill("#sequence", fasta)  # the pasted promoter (FASTA text)
    page.fill("#question", ASK_LEAF)
    page.click("#ask-btn")
    page.wait_for_selector(".turn.assistant", timeout=60_000)
    page.wait_for_function(
        "() => { const i = document.getElementById('plot');"
        " return !i.hidden && i.complete && i.naturalWidth > 0; }",
        timeout=60_000,
    )
    answer = page.inner_text(".turn.assistant")
    assert f"{leaf.value:.2f} ± {leaf.uncertainty:.2f}" in answer
    assert page.inner_text("#value") == f"{leaf.value:.2f}"
    assert page.inner_text("#interval") == f"± {leaf.uncertainty:.2f}"
    assert "percentile" in page.inner_text("#percentile")
    assert (
        page.locator("#regions li").count() >= 1
    )  # the demo promoter's TATA-box region, named with its matches
    assert "TATA box" in page.inner_text("#regions")
    assert page.locator("#heatmap-box").is_visible()
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.fill("#question", "And in maize protoplasts?")  # no DNA: the conversation's sequence is meant
    page.click("#ask-btn")
    page.wait_for_function("() => document.querySelectorAll('.turn.assistant').length === 2", timeout=60_000)
    assert (
        f"{proto.value:.2f} ± {proto.uncertainty:.2f}" in page.locator(".turn.assistant").nth(1).inner_text()
    )

    rows = read_promoters(3)
    upload = tmp_path / "three.fa"
    upload.write_text("".join(f">{r['id']}\n{r['sequence']}\n" for r in rows))
    page.set_input_files("#fasta-file", str(upload))
    page.wait_for_function("() => document.getElementById('sequence').value.startsWith('>')")
    page.click("#predict-btn")
    page.wait_for_selector("#results-table tbody tr", timeout=60_000)
    assert page.locator("#results-table tbody tr").count() == 3
    with page.expect_download() as dl:
        page.click("#tsv-link")
    lines = Path(dl.value.path()).read_text().splitlines()
    want = assistant.predict([(r["id"], r["sequence"]) for r in rows], "promoter_strength/leaf", None)
    assert lines[0].split("\t")[:3] == ["id", "key", "value"]
    assert [(x.split("\t")[0], x.split("\t")[2]) for x in lines[1:]] == [
        (p.id, f"{p.value:.4f}") for p in want
    ]
    assert external == [], f"the page loaded something from outside the server: {external}"
    page.close()

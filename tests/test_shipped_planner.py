"""The shipped planner: the decoder's states carry the plan. The same turns are planned right with the shipped
decoder and wrong once its layers are replaced by random ones (the plan head unchanged), so a random decoder
cannot pass: the decoder's own plan (without the validator's conversation policy) drops to a few right, and the
checked plan chat uses falls below the shipped decoder's. The turns are written here, in words of their own (none
from the phrasing sets)."""

from __future__ import annotations

import pytest
import torch

from agrochat.chat import Assistant
from agrochat.chat.paste import plain_pastes
from agrochat.chat.planning import DecoderPlanner
from conftest import FIXTURES, read_promoters

LEAF, PROTO = "promoter_strength/leaf", "promoter_strength/protoplast"
T_LEAF, T_PROTO = "terminator_strength/leaf", "terminator_strength/protoplast"


def _terminator() -> str:
    lines = (FIXTURES / "terminators_train_8.tsv").read_text().splitlines()
    return next(line.split("\t")[4] for line in lines if not line.startswith(("#", "id\t")))


def _turns() -> list[tuple[list[dict], str, set[str]]]:
    p1, p2 = (r["sequence"] for r in read_promoters(2))
    t1 = _terminator()

    def user(text: str) -> list[dict]:
        return [{"role": "user", "content": text}]

    return [
        (user(f"How active is this promoter in tobacco leaves? {p1}"), "predict", {LEAF}),
        (user(f"{p2}\nwhat would it give in maize protoplasts"), "predict", {PROTO}),
        (user(f"Which of the two is stronger in tobacco? {p1} {p2}"), "compare", {LEAF}),
        (user(f"Why is this promoter strong in maize protoplasts? {p1}"), "explain", {PROTO}),
        (user(f"What happens in tobacco leaves if I mutate the TATA box? {p2}"), "variant", {LEAF}),
        (user(f"Make this promoter weaker for maize protoplasts, 3 edits max. {p1}"), "design", {PROTO}),
        (user("hello!"), "greet", set()),
        (user("Write me a haiku about rice."), "refuse", set()),
        (user("How strong is my promoter in tobacco?"), "need_dna", set()),
        (user(f"How good is this terminator in tobacco leaves? {t1}"), "predict", {T_LEAF}),
    ]


@pytest.fixture(scope="module")
def shipped():
    a = Assistant.from_pretrained()
    assert a.planner is not None, "the shipped model carries a planner/"
    return a


def _right(a: Assistant, policy: bool = True) -> int:
    """Turns planned right: by chat's checked plan, or (``policy=False``) by the decoder's own plan, the validator
    keeping only its hard checks (injections, a sequence present, unmeasured systems)."""
    own = DecoderPlanner(a.planner, a.known_keys, kind=a.kind, ground_keys=False)
    n = 0
    for messages, op, keys in _turns():
        plan = a.plan(messages, planner="decoder") if policy else own.plan(plain_pastes(messages))
        n += plan.op == op and set(plan.keys) == keys
    return n


def test_the_shipped_decoder_plans_these_turns(shipped):
    assert _right(shipped) >= 9  # of 10
    assert _right(shipped, policy=False) >= 9


def test_a_random_decoder_under_the_same_plan_head_does_not():
    a = Assistant.from_pretrained()
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in a.model.decoder.named_parameters():
            if ".layers." in name:
                p.normal_(0, 0.02) if p.dim() > 1 else p.fill_(1.0)
    assert _right(a, policy=False) <= 4
    assert _right(a) <= 8  # the policy rescues some turns whose words name the operation, not the shipped 9

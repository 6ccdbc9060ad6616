"""The decoder's planner: its adapter and head, training on cached lower layers, saving, and the validator."""

from __future__ import annotations

import torch

from agrochat.bridge.planner import Planner, PlannerConfig, PlanScores
from agrochat.chat.dialogue import Intent
from agrochat.chat.planning import DecoderPlanner, with_placeholders
from agrochat.data_gen.planning import Pools, generate
from agrochat.domain.operations import GOALS, OPS
from conftest import CHAT_KEYS, FIXTURES, read_promoters


def _pools() -> Pools:
    rows = read_promoters()
    terms = [
        line.split("\t")[4]
        for line in (FIXTURES / "terminators_train_8.tsv").read_text().splitlines()
        if not line.startswith(("#", "id\t"))
    ]
    return Pools([(r["sequence"], r["species"]) for r in rows], terms)


def _assistant(model_dir):
    from agrochat.chat import Assistant

    a = Assistant.from_pretrained(model_dir)
    for p in a.model.parameters():
        p.requires_grad_(False)
    return a


def test_top_layers_on_cached_lower_layers_equal_the_full_decoder(model_dir):
    a = _assistant(model_dir)
    planner = Planner.build(
        a.model, PlannerConfig(keys=a.known_keys, ops=list(OPS), goals=list(GOALS), layers=1)
    )
    with torch.no_grad():  # a non-zero adapter, so the check covers it
        for n, p in a.model.decoder.named_parameters():
            if ".plan." in n:
                p.normal_(0, 0.05)
    seq = read_promoters(1)[0]["sequence"]
    b = planner.batch(
        [
            planner.encode([{"role": "user", "content": "How strong is <dna> in tobacco?"}], [seq]),
            planner.encode([{"role": "user", "content": "hello"}], []),
        ]
    )
    with torch.no_grad():
        full = planner.states(b)
        split = planner.upper_states(planner.lower_states(b), b["attention_mask"])
        base = (
            a.model.decoder.get_base_model()
            .model(
                inputs_embeds=a.model.embed(b["input_ids"], b["dna_input_ids"], b["dna_attention_mask"]),
                attention_mask=b["attention_mask"],
            )
            .last_hidden_state
        )
    mask = b["attention_mask"].bool()
    assert torch.allclose(full[mask], split[mask], atol=1e-4)
    assert not torch.allclose(full[mask], base[mask], atol=1e-3)  # the adapter is active in planning...
    assert a.model.decoder.active_adapter == "default"  # ...and only there


def test_planner_learns_saves_and_loads(model_dir, tmp_path):
    from agrochat.train.plan import PlanTrainConfig, train_planner

    a = _assistant(model_dir)
    torch.manual_seed(0)
    planner = Planner.build(
        a.model, PlannerConfig(keys=a.known_keys, ops=list(OPS), goals=list(GOALS), layers=1, hidden=32)
    )
    train = generate(CHAT_KEYS, _pools(), 96, seed=0)
    result = train_planner(
        planner,
        train,
        train[:32],
        tmp_path / "plan",
        PlanTrainConfig(epochs=3, batch_size=16, lr=3e-3, head_lr=3e-3),
    )
    log = result["log"]
    assert log[-1]["loss"] < log[0]["loss"]
    assert log[-1]["valid"]["op"] > 0.3  # 12 operations: chance is far lower
    loaded = Planner.from_pretrained(tmp_path / "plan" / f"epoch-{len(log)}", _assistant(model_dir).model)
    ex = train[0]
    got, want = loaded.scores(ex.messages, ex.sequences), planner.scores(ex.messages, ex.sequences)
    assert max(abs(got.op[o] - want.op[o]) for o in OPS) < 1e-5


def _scores(op: str, keys: dict[str, float], seqs: list[float], goal: str = "none") -> PlanScores:
    return PlanScores(
        op={o: float(o == op) for o in OPS},
        keys={k: keys.get(k, 0.01) for k in CHAT_KEYS},
        goal={g: float(g == goal) for g in ("none", "stronger", "weaker", "target")},
        sequences=seqs,
    )


class _Stub:
    config = PlannerConfig(keys=CHAT_KEYS, ops=list(OPS), goals=list(GOALS))


def test_validator_vetoes_and_shapes_the_plan():
    d = DecoderPlanner(_Stub(), CHAT_KEYS)
    rules = Intent("help")
    leaf, proto = CHAT_KEYS[0], CHAT_KEYS[1]
    # a number without a sequence: need_dna, counted
    got = d.decide(_scores("predict", {leaf: 0.9}, []), [], rules, "how strong?")
    assert got.op == "need_dna" and got.vetoes and got.source == "decoder"
    # a comparison of one sequence: a prediction, counted
    got = d.decide(_scores("compare", {leaf: 0.9}, [0.9]), ["ACGT" * 10], rules, "")
    assert got.op == "predict" and got.vetoes
    # two keys for one sequence: the sequence twice, once per key
    got = d.decide(_scores("predict", {leaf: 0.9, proto: 0.8}, [0.9]), ["ACGT" * 10], rules, "")
    assert got.keys == (leaf, proto) and got.sequences == ("ACGT" * 10,) * 2 and not got.vetoes
    # no key above 0.5: the most likely one; the sequence the turn is about
    got = d.decide(_scores("explain", {proto: 0.3}, [0.1, 0.8]), ["A" * 40, "C" * 40], rules, "")
    assert got.keys == (proto,) and got.sequences == ("C" * 40,) and got.labels == ("sequence 2",)
    # a design carries its direction
    got = d.decide(_scores("design", {leaf: 0.9}, [0.9], goal="weaker"), ["A" * 40], rules, "make it weaker")
    assert got.goal == "weaker" and got.message == "make it weaker"


def test_placeholders_cover_every_user_sequence():
    s1, s2 = "ACGT" * 10, "TTGCA" * 8
    msgs = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": f"how strong is {s1}?"},
        {"role": "assistant", "content": "1.2"},
        {"role": "user", "content": "and this one?"},
    ]
    convo, seqs = with_placeholders(msgs, dna=s2)
    assert seqs == [s1, s2]
    assert [m["role"] for m in convo] == ["user", "assistant", "user"]
    assert convo[0]["content"] == "how strong is <dna>?" and convo[2]["content"].endswith("<dna>")


def test_resume_trains_the_loaded_adapter(model_dir, tmp_path):
    from safetensors.torch import load_file

    from agrochat.bridge import top_adapter as top
    from agrochat.train.plan import PlanTrainConfig, train_planner

    a = _assistant(model_dir)
    config = PlannerConfig(keys=a.known_keys, ops=list(OPS), goals=list(GOALS), layers=1, hidden=32)
    data = generate(CHAT_KEYS, _pools(), 32, seed=0)
    train_planner(
        Planner.build(a.model, config), data, data[:16], tmp_path, PlanTrainConfig(epochs=1, lr=3e-3)
    )
    b = _assistant(model_dir)
    out = train_planner(
        Planner.build(b.model, config),
        data,
        data[:16],
        tmp_path,
        PlanTrainConfig(epochs=2, lr=3e-3),
        resume=True,
    )
    assert [e["epoch"] for e in out["log"]] == [1, 2]
    first = load_file(str(tmp_path / "epoch-1" / "adapter_model.safetensors"))
    now = top.params(b.model, "plan")
    assert any(
        not torch.equal(first[n], p.detach()) for n, p in now.items()
    )  # epoch 2 moved the loaded adapter

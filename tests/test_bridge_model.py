import pytest
import torch

from agrochat.bridge import DnaLanguageModel, PlaceholderError, build_model
from agrochat.bridge.generate import DecodingRules, generate, generate_batch, next_token, stream
from conftest import LEAF, tiny_config

Q = "How strongly is this promoter expressed in tobacco leaf? <dna>"


def _conv(seq: str, target: float):
    msgs = [
        {"role": "user", "content": Q},
        {"role": "assistant", "content": "Its strength is <num>. TATA box found."},
    ]
    return msgs, [seq], [target], [LEAF]


def test_placeholder_count_mismatch_is_a_clear_error(tiny_model, promoters):
    seq = promoters[0]["sequence"]
    with pytest.raises(PlaceholderError, match="1 <dna> placeholder.*2 sequence"):
        tiny_model.processor.encode([{"role": "user", "content": Q}], [seq, seq])
    with pytest.raises(PlaceholderError, match="2 <dna>.*1 sequence"):
        tiny_model.processor.encode([{"role": "user", "content": Q + " and <dna>"}], [seq])
    msgs, seqs, _, keys = _conv(seq, 1.0)
    with pytest.raises(PlaceholderError, match="1 <num> slot.*2 target"):
        tiny_model.processor.encode(msgs, seqs, [1.0, 2.0], keys)
    # the model itself checks that the expanded placeholders match the projector output
    ex = tiny_model.processor.encode(msgs, seqs, [1.0], keys)
    batch = tiny_model.processor.collate([ex])
    batch["dna_input_ids"] = batch["dna_input_ids"][:, :20]
    batch["dna_attention_mask"] = batch["dna_attention_mask"][:, :20]
    with pytest.raises(PlaceholderError, match="projector produced"):
        tiny_model(**batch)


def test_several_sequences_per_prompt(tiny_model, promoters):
    a, b = promoters[0]["sequence"], promoters[1]["sequence"][:100]
    msgs = [
        {"role": "user", "content": "Compare <dna> with <dna>."},
        {"role": "assistant", "content": "First <num>, second <num>."},
    ]
    ex = tiny_model.processor.encode(msgs, [a, b], [1.0, 2.0], [LEAF, LEAF])
    assert ex.input_ids.count(tiny_model.dna_token_id) == 31 + 1 + 100 // 6 + 100 % 6
    batch = tiny_model.processor.collate([ex])
    assert batch["dna_input_ids"].shape == (2, 31)  # padded to the longest, not to 1024
    out = tiny_model(**batch)
    assert out.num_mean.shape == (2,) and torch.isfinite(out.loss)


def test_lora_on_encoder_and_decoder(tiny_model):
    names = [n for n, p in tiny_model.named_parameters() if p.requires_grad]
    assert any("encoder" in n and "query.lora_A" in n for n in names)
    assert any("encoder" in n and "value.lora_A" in n for n in names)
    assert any(n.startswith("decoder") and "q_proj.lora_A" in n for n in names)
    assert any("trainable_tokens" in n for n in names)  # <dna>/<num> embedding rows
    base = [
        n for n, p in tiny_model.named_parameters() if "encoder.layer.0.attention.self.query.base_layer" in n
    ]
    assert base and not any(p.requires_grad for n, p in tiny_model.named_parameters() if n in base)


def test_save_load_round_trip_identical_outputs(tiny_model, promoters, tmp_path):
    msgs, seqs, y, keys = _conv(promoters[0]["sequence"], 1.5)
    batch = tiny_model.processor.collate([tiny_model.processor.encode(msgs, seqs, y, keys)])
    # make the adapters non-trivial so the round trip is meaningful
    with torch.no_grad():
        for n, p in tiny_model.named_parameters():
            if "lora_B" in n or "trainable_tokens" in n:
                p.add_(0.01 * torch.randn_like(p))
    tiny_model.eval()
    with torch.no_grad():
        ref = tiny_model(**batch)
    tiny_model.save_pretrained(tmp_path / "ckpt")
    files = sorted(p.name for p in (tmp_path / "ckpt").rglob("*") if p.is_file())
    assert "adapter_model.safetensors" in files and not any(
        f.endswith((".bin", ".pt", ".pkl")) for f in files
    )
    again = DnaLanguageModel.from_pretrained(tmp_path / "ckpt")
    with torch.no_grad():
        out = again(**batch)
    assert torch.equal(ref.logits, out.logits)
    assert torch.equal(ref.num_mean, out.num_mean)


@pytest.fixture(params=["token", "dna_attention"])
def readout_model(request, dna_tokenizer, text_tokenizer):
    from agrochat.bridge import NumericHeadConfig

    torch.manual_seed(0)
    head = NumericHeadConfig(
        keys=[LEAF], norm={LEAF: [0.9, 1.6]}, units={LEAF: "log2 units"}, hidden=32, readout=request.param
    )
    return build_model(tiny_config(numeric_head=head), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer)


def test_num_decoding_writes_head_value(readout_model, promoters):
    tiny_model = readout_model
    tiny_model.eval()
    seq = promoters[3]["sequence"]
    im_end = tiny_model.tokenizer.convert_tokens_to_ids("<|im_end|>")
    script = [tiny_model.num_token_id, im_end]
    calls = {"n": 0}

    def force(module, args, output):  # make the decoder say "<num>" then stop
        if calls["n"] < len(script):
            output.logits[:, -1, script[calls["n"]]] = 1e4
        calls["n"] += 1
        return output

    handle = tiny_model.decoder.register_forward_hook(force)
    try:
        gen = generate(
            tiny_model,  # the value's text as the registry would write it, unit included
            [{"role": "user", "content": Q}],
            [seq],
            num_keys=[LEAF],
            formatter=lambda v: f"{v.value:.2f} ± {v.std:.2f} log2 units",
        )
    finally:
        handle.remove()
    assert len(gen.values) == 1
    v = gen.values[0]
    assert gen.text == f"{v.value:.2f} ± {v.std:.2f} log2 units"
    fast = tiny_model.score([([{"role": "user", "content": Q}], [seq], "<num>")], [LEAF])[0]
    assert fast.value == pytest.approx(v.value, abs=1e-5)  # generation and fast path agree


def test_text_mode_writes_digits(dna_tokenizer, text_tokenizer, promoters):
    torch.manual_seed(0)
    model = build_model(tiny_config(numeric="text"), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer)
    msgs, seqs, y, keys = _conv(promoters[0]["sequence"], 1.2345)
    ex = model.processor.encode(msgs, seqs, y, keys)
    text = text_tokenizer.decode(ex.input_ids)
    assert "Its strength is 1.23." in text and "<num>" not in text
    with pytest.raises(NotImplementedError):
        model.score([([msgs[0]], seqs, "<num>")], [LEAF])


def test_tiny_end_to_end_training_reduces_loss(dna_tokenizer, text_tokenizer, promoters):
    """agront-mini + tiny random LLaMA, 30 steps on real promoters: the loss goes down."""
    from agrochat.bridge import DecoderConfig, EncoderConfig

    torch.manual_seed(0)
    # the tiny LLaMA is random, so it trains fully; the encoder trains through LoRA
    cfg = tiny_config(
        encoder=EncoderConfig(preset="agront-mini", trainable="lora"),
        decoder=DecoderConfig(source="preset", trainable="full"),
    )
    model = build_model(cfg, tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer)
    model.train()
    rows = promoters[:16]
    examples = [model.processor.encode(*_conv(r["sequence"], float(r["label"]))) for r in rows]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for step in range(30):
        batch = model.processor.collate(examples[(step % 2) * 8 : (step % 2) * 8 + 8])
        out = model(**batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.5 * first, (first, last)
    assert out.num_loss.item() < 1.0  # the regression part learns too (Gaussian NLL of normalised targets)


def test_corrupt_or_unknown_checkpoints_are_rejected(tiny_model, tmp_path):
    import json

    from agrochat.bridge import CheckpointError, ConfigError

    ckpt = tmp_path / "ckpt"
    tiny_model.save_pretrained(ckpt)
    head = ckpt / "numeric_head.safetensors"
    head.write_bytes(head.read_bytes()[:100])  # truncated file
    with pytest.raises(CheckpointError, match="numeric_head|cannot read"):
        DnaLanguageModel.from_pretrained(ckpt)
    cfg = json.loads((ckpt / "agrochat_config.json").read_text())
    cfg["projector"]["type"] = "remote_code_projector"
    (ckpt / "agrochat_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="projector.type"):
        DnaLanguageModel.from_pretrained(ckpt)
    with pytest.raises(CheckpointError, match="not an agrochat checkpoint"):
        DnaLanguageModel.from_pretrained(tmp_path)


def test_lora_adapter_round_trip_with_tied_embeddings_from_pretrained_dir(
    dna_tokenizer, text_tokenizer, tmp_path
):
    """A decoder loaded from a directory (as SmolLM2 is) saves only its PEFT adapter + the new token rows."""
    from agrochat.bridge import DecoderConfig, build_decoder

    torch.manual_seed(0)
    base, tok = build_decoder(DecoderConfig(source="preset"))
    base.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    cfg = tiny_config(
        decoder=DecoderConfig(source="pretrained", name_or_path=str(tmp_path / "base"), trainable="lora")
    )
    model = build_model(cfg, tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n or "trainable_tokens" in n:
                p.add_(0.05 * torch.randn_like(p))
    model.eval()
    msgs = [{"role": "user", "content": Q}]
    seq = "ACGT" * 30
    ref = model.score([(msgs, [seq], "<num>")], [LEAF])[0]
    model.save_pretrained(tmp_path / "ckpt")
    adapter = tmp_path / "ckpt" / "decoder" / "adapter_model.safetensors"
    assert adapter.stat().st_size < 1_000_000  # no copy of the embedding matrix
    assert not (tmp_path / "ckpt" / "decoder" / "weights.safetensors").exists()
    again = DnaLanguageModel.from_pretrained(tmp_path / "ckpt")
    out = again.score([(msgs, [seq], "<num>")], [LEAF])[0]
    assert out.value == ref.value and out.std == ref.std


def test_dna_attention_readout_trains_and_round_trips(dna_tokenizer, text_tokenizer, promoters, tmp_path):
    from agrochat.bridge import NumericHeadConfig

    torch.manual_seed(0)
    head = NumericHeadConfig(keys=[LEAF], norm={LEAF: [0.9, 1.6]}, hidden=32, readout="dna_attention")
    model = build_model(tiny_config(numeric_head=head), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer)
    a, b = promoters[0]["sequence"], promoters[1]["sequence"]
    msgs = [
        {"role": "user", "content": "Compare <dna> with <dna>."},
        {"role": "assistant", "content": "First <num>, second <num>."},
    ]
    batch = model.processor.collate([model.processor.encode(msgs, [a, b], [1.0, 2.0], [LEAF, LEAF])])
    out = model(**batch)
    out.loss.backward()
    assert model.projector.net[0].weight.grad is not None  # numbers read the projected DNA directly
    head_ = model.numeric_head
    assert head_.query.grad.abs().sum() > 0 and head_.q_h.weight.grad.abs().sum() > 0  # h paths learn too
    model.eval()
    with torch.no_grad():
        ref = model(**batch).num_mean
    model.save_pretrained(tmp_path / "ckpt")
    again = DnaLanguageModel.from_pretrained(tmp_path / "ckpt")
    with torch.no_grad():
        assert torch.equal(again(**batch).num_mean, ref)


def test_dna_attention_head_without_decoder_state_matches_at_init():
    """The regress stage calls the head with h=None; the decoder stages must start from the same numbers."""
    from agrochat.bridge import NumericHeadConfig
    from agrochat.bridge.head import NumericHead

    torch.manual_seed(0)
    head = NumericHead(16, NumericHeadConfig(keys=["a", "b"], hidden=8, readout="dna_attention"))
    ctx, mask = torch.randn(3, 5, 16), torch.ones(4, 5, dtype=torch.bool)  # 3 sequences, 4 numbers
    rows, keys = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 0, 1])
    m0, v0 = head(None, keys, ctx, mask, ctx_rows=rows)
    m1, v1 = head(torch.randn(4, 16), keys, ctx[rows], mask)  # per-number context gives the same
    assert torch.allclose(m0, m1, atol=1e-6) and torch.allclose(v0, v1, atol=1e-6)
    with pytest.raises(ValueError, match="DNA context"):
        head(None, keys)


@pytest.mark.parametrize("pool", ["attention", "attention_mean_max", "mean_max", "mean_max_position"])
def test_dna_head_pools_read_only_real_positions(pool):
    """Every pool gives one (mean, log-variance) per number, ignores padded positions, and trains every weight."""
    from agrochat.bridge import NumericHeadConfig
    from agrochat.bridge.head import NumericHead

    torch.manual_seed(0)
    head = NumericHead(16, NumericHeadConfig(keys=["a", "b"], hidden=8, readout="dna", pool=pool))
    ctx, mask = torch.randn(2, 6, 16), torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    keys = torch.tensor([0, 1])
    mean, log_var = head(None, keys, ctx, mask)
    assert mean.shape == log_var.shape == (2,)
    moved = ctx.clone()
    moved[1, 4:] = 99.0  # padding content must not matter
    assert torch.allclose(head(None, keys, moved, mask)[0], mean)
    (mean.sum() + log_var.sum()).backward()
    assert all(p.grad is not None for n, p in head.named_parameters() if not n.startswith("net."))


def test_position_pool_knows_where_a_feature_sits_counted_from_the_3_end():
    """mean_max_position: the same features in another order give another number (mean_max: the same); the
    slots are aligned on each sequence's 3' end, wherever its readable block sits in the prompt."""
    from agrochat.bridge import NumericHeadConfig
    from agrochat.bridge.head import NumericHead

    torch.manual_seed(0)
    cfg = dict(keys=["a"], hidden=8, readout="dna", position_slots=4, position_width=3)
    head = NumericHead(16, NumericHeadConfig(pool="mean_max_position", **cfg))
    plain = NumericHead(16, NumericHeadConfig(pool="mean_max", **cfg))
    key = torch.zeros(1, dtype=torch.long)
    ctx, mask = torch.randn(1, 6, 16), torch.ones(1, 6, dtype=torch.bool)
    flipped = ctx.flip(1)
    assert torch.allclose(plain(None, key, ctx, mask)[0], plain(None, key, flipped, mask)[0], atol=1e-6)
    assert not torch.allclose(head(None, key, ctx, mask)[0], head(None, key, flipped, mask)[0])
    # the same 3-position sequence at the start or in the middle of a longer prompt: the same number
    seq = torch.randn(1, 3, 16)
    first, middle = torch.randn(1, 8, 16), torch.randn(1, 8, 16)
    first[:, :3], middle[:, 4:7] = seq, seq
    m1, m2 = torch.zeros(1, 8, dtype=torch.bool), torch.zeros(1, 8, dtype=torch.bool)
    m1[:, :3], m2[:, 4:7] = True, True
    assert torch.allclose(head(None, key, first, m1)[0], head(None, key, middle, m2)[0], atol=1e-6)
    # a longer sequence reaches the position part with its 3'-most positions only
    parts = head._slots(head.v(head.ctx_norm(ctx)), mask).view(4, 3)
    assert torch.allclose(parts[-1], head.position(head.v(head.ctx_norm(ctx)))[0, -1], atol=1e-6)


def test_mean_max_pool_refuses_a_query_refined_by_the_num_state():
    from agrochat.bridge import NumericHeadConfig
    from agrochat.errors import ConfigError

    with pytest.raises(ConfigError, match="mean_max"):
        NumericHeadConfig(keys=["a"], readout="dna_attention", pool="mean_max")


def test_detached_variance_trains_its_output_row_only():
    """variance_detached: the log-variance loss reaches the head's output weights, never the features."""
    from agrochat.bridge import NumericHeadConfig
    from agrochat.bridge.head import NumericHead

    torch.manual_seed(0)
    cfg = NumericHeadConfig(keys=["a"], hidden=8, readout="dna", pool="mean_max", variance_detached=True)
    head = NumericHead(16, cfg)
    ctx = torch.randn(3, 5, 16, requires_grad=True)
    mean, log_var = head(None, torch.zeros(3, dtype=torch.long), ctx, torch.ones(3, 5, dtype=torch.bool))
    log_var.sum().backward()
    assert ctx.grad is None or ctx.grad.abs().sum() == 0
    assert head.v.weight.grad is None or head.v.weight.grad.abs().sum() == 0
    assert head.out.weight.grad[1].abs().sum() > 0  # row 1: the log-variance of key "a"
    twin = NumericHead(16, NumericHeadConfig(keys=["a"], hidden=8, readout="dna", pool="mean_max"))
    twin.load_state_dict(head.state_dict())
    m2, v2 = twin(None, torch.zeros(3, dtype=torch.long), ctx, torch.ones(3, 5, dtype=torch.bool))
    assert torch.allclose(m2, mean) and torch.allclose(v2, log_var)  # the same numbers, only gradients differ


@pytest.mark.parametrize("readout", ["token", "dna_attention"])
def test_batched_generation_equals_one_by_one(readout, dna_tokenizer, text_tokenizer, promoters):
    """Left-padded batch generation gives the same text and head values as streaming each prompt alone."""
    from agrochat.bridge import NumericHeadConfig

    torch.manual_seed(0)
    head = NumericHeadConfig(keys=[LEAF], norm={LEAF: [0.9, 1.6]}, hidden=32, readout=readout)
    model = build_model(
        tiny_config(numeric_head=head), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer
    ).eval()
    num = model.num_token_id

    def every_third_is_num(module, args, out):  # make the random decoder emit <num> now and then
        out = out.clone()
        out[..., num] = torch.where(out.argmax(-1) % 3 == 0, 1e4, -1e4)
        return out

    model.decoder.get_output_embeddings().register_forward_hook(every_third_is_num)
    seqs = [promoters[i]["sequence"][: 60 + 25 * i] for i in range(3)]
    prompts = [
        ([{"role": "user", "content": "How strong is <dna>?" + " Please." * i}], [s])
        for i, s in enumerate(seqs)
    ]
    batch = generate_batch(model, prompts, [[LEAF]] * 3, max_new_tokens=10)
    for (msgs, s), got in zip(prompts, batch, strict=True):
        ref = generate(model, msgs, s, num_keys=[LEAF], max_new_tokens=10)
        assert got.text == ref.text
        assert [v.value for v in got.values] == pytest.approx([v.value for v in ref.values], abs=1e-5)
    assert sum(len(g.values) for g in batch) > 0


def test_dna_readout_fast_path_skips_the_decoder_and_equals_the_chat_number(
    dna_tokenizer, text_tokenizer, promoters
):
    from agrochat.bridge import NumericHeadConfig

    torch.manual_seed(0)
    head = NumericHeadConfig(keys=[LEAF], norm={LEAF: [0.9, 1.6]}, hidden=32, readout="dna")
    model = build_model(
        tiny_config(numeric_head=head), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer
    ).eval()
    assert not hasattr(model.numeric_head, "q_h")  # no path from the decoder state
    prefix = "It is <num>"
    one = [{"role": "user", "content": "How strong is <dna>?"}]
    two = [{"role": "user", "content": "Compare <dna> and <dna>."}]
    seqs = [promoters[i]["sequence"][: 50 + 30 * i] for i in range(3)]
    calls = []
    hook = model.decoder.register_forward_hook(lambda *a: calls.append(1))
    fast = model.score([(one, [seqs[0]], prefix), (two, seqs[1:], prefix)], [LEAF, LEAF])
    hook.remove()
    assert not calls  # the decoder never ran
    for (msgs, s), v in zip([(one, [seqs[0]]), (two, seqs[1:])], fast, strict=True):
        values = generate(model, msgs, s, num_keys=[LEAF], answer_prefix=prefix, max_new_tokens=1).values
        assert values[0].value == pytest.approx(v.value, abs=1e-5) and values[0].std == pytest.approx(
            v.std, abs=1e-5
        )
    with pytest.raises(Exception, match="placeholder"):
        model.score([(two, seqs[:1], prefix)], [LEAF])


class _Boom:
    """Unpickling this writes a marker file: proof that a pickle was executed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickles_planted_in_a_checkpoint_are_never_executed(tiny_model, tmp_path):
    import pickle

    ckpt = tmp_path / "ckpt"
    tiny_model.save_pretrained(ckpt)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Boom(str(marker)))
    for rel in (
        "pytorch_model.bin",
        "encoder/pytorch_model.bin",
        "decoder/adapter_model.bin",
        "projector.pt",
        "training_args.bin",
        "tokenizer/tokenizer.pkl",
    ):
        (ckpt / rel).parent.mkdir(parents=True, exist_ok=True)
        (ckpt / rel).write_bytes(payload)
    DnaLanguageModel.from_pretrained(ckpt)
    assert not marker.exists()


def test_package_never_enables_trust_remote_code():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for part in ("app", "bridge", "chat", "data_gen", "train"):
        for py in (root / part).rglob("*.py"):
            assert "trust_remote_code=True" not in py.read_text(), py


def test_head_models_never_write_digits_themselves(tiny_model):
    """numeric=head: every number in an answer comes from the head through <num>."""
    from agrochat.bridge.generate import digit_ids

    digits = digit_ids(tiny_model.tokenizer)
    assert len(digits) >= 10

    def love_digits(module, args, out):
        out = out.clone()
        out[..., digits] += 1e4
        return out

    tiny_model.decoder.get_output_embeddings().register_forward_hook(love_digits)
    text = "".join(stream(tiny_model, [{"role": "user", "content": "Say a number."}], max_new_tokens=6))
    assert not any(c.isdigit() for c in text)
    batch = generate_batch(
        tiny_model, [([{"role": "user", "content": "Say a number."}], [])], [[]], max_new_tokens=6
    )
    assert not any(c.isdigit() for c in batch[0].text)


def test_greedy_generation_does_not_loop(tiny_model):
    from transformers import NoRepeatNGramLogitsProcessor  # the rule generation applies

    logits = NoRepeatNGramLogitsProcessor(3)(torch.tensor([[1, 2, 3, 1, 2]]), torch.zeros(1, 10))[0]
    assert logits[3] == float("-inf") and torch.isfinite(logits[[0, 1, 2, 4]]).all()
    favourite = 1000  # a plain text token the hooked decoder always prefers

    def loop(module, args, out):
        out = out.clone()
        out[..., favourite] += 1e4
        return out

    tiny_model.decoder.get_output_embeddings().register_forward_hook(loop)
    msgs = [{"role": "user", "content": "Talk."}]
    gen = generate_batch(tiny_model, [(msgs, [])], [[]], max_new_tokens=8, no_repeat_ngram=2)[0].text
    one = "".join(stream(tiny_model, msgs, max_new_tokens=8, no_repeat_ngram=2))
    assert gen == one
    word = tiny_model.tokenizer.decode([favourite])
    assert "".join(stream(tiny_model, msgs, max_new_tokens=8, no_repeat_ngram=0)) == word * 8
    assert one != word * 8 and one.count(word * 3) == 0  # the loop is broken


def test_an_answer_may_not_end_before_the_number_it_was_asked_for(tiny_model):
    """require_numbers: with num_keys given, the end tokens are masked until one <num> per key was written."""
    from agrochat.bridge.generate import stop_ids

    stop, num = stop_ids(tiny_model.tokenizer), tiny_model.num_token_id
    key = tiny_model.config.numeric_head.keys[0]

    def wants_to_stop(module, args, out):  # ending is always the first choice, <num> the second
        out = out.clone()
        out[..., stop] += 2e4
        out[..., num] += 1e4
        return out

    tiny_model.decoder.get_output_embeddings().register_forward_hook(wants_to_stop)
    msgs = [{"role": "user", "content": "How strong is it?"}]
    held = generate_batch(tiny_model, [(msgs, [])], [[key]], max_new_tokens=6)[0]
    assert len(held.values) == 1 and held.held_open == 1 and held.text.strip()
    one = generate(tiny_model, msgs, num_keys=[key], max_new_tokens=6)
    assert one.text == held.text and one.held_open == 1
    free = generate_batch(tiny_model, [(msgs, [])], [[key]], max_new_tokens=6, require_numbers=False)[0]
    assert free.text == "" and not free.values and free.held_open == 0
    assert generate(tiny_model, msgs, max_new_tokens=6).text == ""  # no keys asked for: free to end


def test_the_number_is_written_before_the_token_budget_runs_out(tiny_model):
    """A decoder that rambles instead of writing <num> gets <num> forced at the last step its budget allows."""
    from agrochat.bridge.generate import plain_formatter, stop_ids

    stop, num = stop_ids(tiny_model.tokenizer), tiny_model.num_token_id
    key = tiny_model.config.numeric_head.keys[0]
    ramble = next(i for i in range(200, 400) if i not in stop and i != num)

    def rambles(module, args, out):  # one ordinary token is always the first choice, <num> never
        out = out.clone()
        out[..., ramble] += 2e4
        out[..., num] -= 2e4
        return out

    tiny_model.decoder.get_output_embeddings().register_forward_hook(rambles)
    msgs = [{"role": "user", "content": "How strong is it?"}]
    got = generate_batch(tiny_model, [(msgs, [])], [[key]], max_new_tokens=5, no_repeat_ngram=0)[0]
    assert (
        len(got.values) == 1
        and got.forced == 1
        and got.text.rstrip().endswith(plain_formatter(2)(got.values[0]))
    )
    one = generate(tiny_model, msgs, num_keys=[key], max_new_tokens=5, no_repeat_ngram=0)
    assert one.text == got.text and one.forced == 1
    free = generate_batch(tiny_model, [(msgs, [])], [[key]], max_new_tokens=5, require_numbers=False)[0]
    assert not free.values and free.forced == 0


def test_a_row_without_a_key_never_writes_num(tiny_model):
    """``<num>`` is banned only in the rows that have no key to read a number for (stream and batch alike)."""
    rules = DecodingRules.for_model(tiny_model, [[], [LEAF]])
    vocab = len(tiny_model.tokenizer)
    scores = torch.zeros(2, vocab)
    scores[:, tiny_model.num_token_id] = 10.0  # <num> is every row's best token
    step = next_token(scores, torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, dtype=torch.long), 8, rules)
    assert int(step.tokens[0]) != tiny_model.num_token_id
    assert int(step.tokens[1]) == tiny_model.num_token_id

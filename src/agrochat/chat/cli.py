"""``agrochat chat`` (REPL or one-shot) and ``agrochat predict`` (batch scoring): thin wrappers over Assistant."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from agrochat.errors import AgrochatError, InputError

HELP = """Commands:
  <question>          ask about the loaded sequence, or paste DNA into the question
  /load FILE.fa       load sequences from a FASTA file (the first one is used)
  /seq ACGT...        set the sequence directly
  /task NAME          promoter_strength | terminator_strength | synthetic_promoter | tissue_expression
  /tissue NAME        leaf | protoplast | a tissue name
  /explain            why: the model's motif knockouts and where single-base changes move the prediction most
  /plot [FILE.png]    the same, written as an effect-track plot
  /variant SPEC       effect of edits: G-30A (TSS-relative), A140G (1-based), ko:TATA, ins:TATA@-30
  /design [K]         greedy in-silico evolution toward a stronger sequence (at most K substitutions, default 5)
  /help               this text
  /quit               leave"""


def _load(model: Path | None):
    from agrochat.chat import Assistant

    return Assistant.from_pretrained(model)


class Repl:
    """State of one chat session; ``handle(line)`` returns False to stop."""

    def __init__(self, assistant, task: str | None, tissue: str | None, echo=print) -> None:
        self.a, self.task, self.tissue, self.echo = assistant, task, tissue, echo
        self.seq: str | None = None
        self.key: str | None = None  # key of the last answer (for /explain)
        self.messages: list[dict] = []

    def handle(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        try:
            return self.execute(line)
        except AgrochatError as e:  # one line, keep running
            self.echo(f"error: {str(e)}")
            return True

    def execute(self, line: str) -> bool:
        """Run one command or question (``line`` stripped, not empty); user errors raise. False to stop."""
        from agrochat.chat.fasta import read_fasta

        cmd, _, arg = line.partition(" ")
        arg = arg.strip()
        if cmd in ("/quit", "/exit"):
            return False
        if cmd == "/help":
            self.echo(HELP)
        elif cmd == "/load":
            recs = read_fasta(arg)
            self.seq = self.a.check_sequence(recs[0].sequence, recs[0].id)
            self.echo(
                f"loaded {recs[0].id} ({len(self.seq)} bp){f'; {len(recs)} records, using the first' if len(recs) > 1 else ''}"
            )
        elif cmd == "/seq":
            self.seq = self.a.check_sequence(arg)
            self.echo(f"sequence set ({len(self.seq)} bp)")
        elif cmd == "/task":
            if arg != "tissue_expression":  # tissue expression needs a tissue first; checked at /tissue
                self.a.resolve(arg, self.tissue or "leaf")
            self.task = arg
            self.echo(f"task: {arg}")
        elif cmd == "/tissue":
            self.a.resolve(self.task or "promoter_strength", arg)
            self.tissue = arg
            self.echo(f"tissue: {arg}")
        elif cmd in ("/explain", "/plot"):
            if self.seq is None:
                raise InputError("load a sequence first (/load FILE.fa or /seq ACGT...)")
            plot = (arg or "agrochat_logo.png") if cmd == "/plot" else None
            res = self.a.explain(self.seq, *self._task_tissue(), plot=plot)
            self.echo(res.text)
            if res.plot_path:
                self.echo(f"attribution logo written to {res.plot_path}")
        elif cmd == "/variant":
            if self.seq is None:
                raise InputError("load a sequence first (/load FILE.fa or /seq ACGT...)")
            self.echo(_variant_text(self.a.variant(self.seq, arg, *self._task_tissue())))
        elif cmd == "/design":
            if self.seq is None:
                raise InputError("load a sequence first (/load FILE.fa or /seq ACGT...)")
            k = int(arg) if arg.strip().isdigit() else 5
            self.echo(
                _design_text(self.a.design(self.seq, *self._task_tissue(), max_mutations=k, progress=True))
            )
        elif cmd.startswith("/"):
            raise InputError(f"unknown command {cmd}; type /help")
        else:
            self._ask(line)
        return True

    def _task_tissue(self) -> tuple[str, str | None]:
        """The task set with /task and /tissue, else the key of the last answer, else promoter strength in leaf."""
        if self.task or self.tissue:
            return self.task or "promoter_strength", self.tissue or "leaf"
        if self.key is not None:
            return self.key, None
        return "promoter_strength", "leaf"

    def _ask(self, line: str) -> None:
        from agrochat.chat.dialogue import DNA_RUN

        turn = {"role": "user", "content": line}
        if (
            self.seq is not None
            and not DNA_RUN.search(line)
            and not any(DNA_RUN.search(m["content"]) for m in self.messages if m["role"] == "user")
        ):
            turn = {
                "role": "user",
                "content": f"{line}\n{self.seq}",
            }  # the /seq or /load sequence joins the turn
        if self.task or self.tissue:
            pieces = self.a.ask(
                turn["content"],
                stream=True,
                task=self.task or "promoter_strength",
                tissue=self.tissue or "leaf",
            )
            intent = None
        else:
            intent = self.a.plan(self.messages + [turn])
            pieces = self.a.chat(self.messages + [turn], stream=True)
        text = ""
        for piece in pieces:
            text += piece
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n" if text.endswith("\n") else "\n\n")  # one blank line after every answer
        if intent is not None and intent.keys and intent.op != "rank":
            self.key = intent.keys[0]
            if intent.sequences:
                self.seq = intent.sequences[0]
        self.messages += [turn, {"role": "assistant", "content": text}]


def chat_command(
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    question: str = typer.Option(None, "--question", "-q", help="ask one question and exit"),
    sequence: str = typer.Option(None, "--sequence", "-s", help="DNA sequence the question is about"),
    fasta: Path = typer.Option(None, "--fasta", "-f", help="FASTA file; its first record is used"),
    task: str = typer.Option(None, "--task", help="task, e.g. promoter_strength"),
    tissue: str = typer.Option(None, "--tissue", help="tissue or system, e.g. leaf"),
):
    """Chat about DNA: one question (--question), lines from stdin, or an interactive session."""
    from agrochat.console import fail

    try:
        assistant = _load(model)
    except AgrochatError as e:
        fail(str(e))
    repl = Repl(assistant, task, tissue, echo=typer.echo)
    for cmd in ([f"/load {fasta}"] if fasta else []) + ([f"/seq {sequence}"] if sequence else []):
        try:
            repl.execute(cmd)
        except AgrochatError as e:
            fail(str(e))
    if question is not None:
        try:
            repl.execute(question)
        except AgrochatError as e:
            fail(str(e))
        return
    interactive = sys.stdin.isatty()
    if interactive:
        typer.echo(
            "agrochat chat. Paste DNA or /load a FASTA file, then ask. /help for commands, /quit to leave."
        )
        try:
            import readline  # noqa: F401  (history and line editing)
        except ImportError:
            pass
    while True:
        try:
            line = input("you> " if interactive else "")
        except (EOFError, KeyboardInterrupt):
            break
        if not repl.handle(line):
            break


def predict_command(
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    sequence: list[str] = typer.Option(None, "--sequence", "-s", help="a DNA sequence (repeatable)"),
    fasta: Path = typer.Option(None, "--fasta", "-f", help="FASTA file (plain or gzip), streamed"),
    task: str = typer.Option("promoter_strength", "--task"),
    tissue: str = typer.Option("leaf", "--tissue"),
    fmt: str = typer.Option("tsv", "--format", help="tsv | json | jsonl"),
    as_json: bool = typer.Option(False, "--json", help="same as --format json"),
    as_tsv: bool = typer.Option(False, "--tsv", help="same as --format tsv"),
    out: Path = typer.Option(None, "--out", "-o", help="write here (incrementally) instead of stdout"),
    resume: bool = typer.Option(
        False, "--resume", help="with --out: skip ids already written, append the rest"
    ),
    batch_size: int = typer.Option(32, "--batch-size", help="at most this many sequences per batch"),
    max_tokens: int = typer.Option(
        32768,
        "--max-tokens",
        help="at most this many padded DNA tokens per batch: long sequences (6 kb) come in small batches",
    ),
    explanations: bool = typer.Option(True, "--explanations/--no-explanations"),
    window: str = typer.Option(
        "whole",
        "--window",
        help="whole: each sequence as given; tss_end: promoter regions that end at the TSS, scored on their "
        "3'-most 170 bp (the -165..+5 core-promoter window the model reads)",
    ),
):
    """Score sequences with the fast path (one forward per batch) and a progress bar."""
    from rich.progress import Progress

    from agrochat.console import fail

    fmt = "json" if as_json else "tsv" if as_tsv else fmt
    if fmt not in ("tsv", "json", "jsonl"):
        fail(f"--format must be tsv, json or jsonl, not {fmt!r}")
    if bool(sequence) == bool(fasta):
        fail("give either --sequence (one or more) or --fasta")
    if resume and (out is None or fmt == "json"):
        fail("--resume needs --out with --format tsv or jsonl")
    try:
        assistant = _load(model)
        assistant.resolve(task, tissue)
    except AgrochatError as e:
        fail(str(e))
    done: set[str] = set()
    if resume and out.exists():
        done = _written_ids(out, fmt)  # also drops a last line cut by an interruption
    source = fasta if fasta else list(sequence)
    cols = ["id", "key", "value", "uncertainty", "percentile", "level", "unit", "motifs", "ood", "ood_reason"]
    cols += ["low68", "high68", "low95", "high95"]
    sink = open(out, "a" if resume else "w") if out else sys.stdout
    try:
        if fmt == "tsv" and not done:
            sink.write("\t".join(cols) + "\n")
        items = []
        with Progress(disable=out is None, transient=False) as progress:
            bar = progress.add_task("scoring", total=None)
            records = ((rid, s) for rid, s in assistant.records(source) if rid not in done)
            for p in assistant.iter_predict(
                records, task, tissue, batch_size, explanations, max_tokens, window
            ):
                row = p.to_dict()
                row.pop("attribution")
                if fmt == "json":
                    items.append(row)
                elif fmt == "jsonl":
                    sink.write(json.dumps(row) + "\n")
                else:
                    motifs = ",".join(sorted({m["name"] for m in row["motifs"]}))
                    sink.write(
                        f"{p.id}\t{p.key}\t{p.value:.4f}\t{p.uncertainty:.4f}\t{p.percentile:.1f}\t"
                        f"{p.level}\t{p.unit}\t{motifs}\t{str(p.ood).lower()}\t{p.ood_reason}\t"
                        + "\t".join(f"{x:.4f}" for x in (*p.interval68, *p.interval95))
                        + "\n"
                    )
                sink.flush()
                progress.advance(bar)
        if fmt == "json":
            sink.write(json.dumps(items, indent=1) + "\n")
    except AgrochatError as e:
        fail(str(e))
    finally:
        if out:
            sink.close()


def complete_lines(path: Path) -> str:
    """The text of an output file a run appends to, without a last line cut by an interruption (removed from the
    file too, so the resumed run starts on a fresh line)."""
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        path.write_text(text)
    return text


def _written_ids(path: Path, fmt: str) -> set[str]:
    """Ids already in ``path``; a trailing line without newline (an interrupted write) is removed."""
    text = complete_lines(path)
    ids = set()
    for line in text.splitlines():
        if fmt == "jsonl":
            ids.add(json.loads(line)["id"])
        elif line and not line.startswith("id\t"):
            ids.add(line.split("\t", 1)[0])
    return ids


def generated_table(gen: dict) -> str:
    lines = [
        "| task / tissue | questions | parse failures | held open* | forced at the budget* | numbers from the head / "
        "as digits | generated R² | generated Pearson | generated Spearman | mean / max abs diff vs fast path | "
        "questions/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, g in gen.items():
        m, a = g.get("generated", {}), g.get("agreement_with_fast_path", {})
        held = g.get("answers_held_open", 0) if g.get("require_numbers") else "off"
        forced = g.get("answers_forced_at_budget", 0) if g.get("require_numbers") else "off"
        lines.append(
            f"| {key} | {g['n']} | {g['parse_failures']} | {held} | {forced} | {g['numbers_from_head']} / "
            f"{g['numbers_as_generated_digits']} | {m.get('r2', float('nan')):.3f} | "
            f"{m.get('pearson', float('nan')):.3f} | {m.get('spearman', float('nan')):.3f} | "
            f"{a.get('mean_abs_diff', float('nan')):.4f} / {a.get('max_abs_diff', float('nan')):.4f} | "
            f"{g.get('questions_per_s', float('nan')):.2f} |"
        )
    lines.append(
        "\n\\* held open: answers that would have ended before their number (the decoder's own parse "
        "failures); the rule masks the end tokens until the <num> the question asked for is written; "
        "forced at the budget: answers still without it when the last tokens of the budget were reached, "
        "where <num> is the only token allowed (--free-decoding turns both off)."
    )
    return "\n".join(lines)


def _provenance(split: str | None, model: Path | None, assistant, rows: int | None = None, data=None) -> dict:
    """The results files' "provenance" entry (:mod:`agrochat.provenance`) for the model ``assistant`` loaded."""
    from agrochat.chat.assistant import DEFAULT_MODEL_DIR
    from agrochat.provenance import provenance

    return provenance(split, model or DEFAULT_MODEL_DIR, rows, data, assistant.model.device)


def _eval_intents(
    model: Path | None, path: Path, sequences: Path, report: Path | None, baselines: list[Path]
) -> None:
    """``agrochat eval --intents``: planning accuracy per planner, printed and written to ``report``."""
    from agrochat.bridge.planner import Planner
    from agrochat.chat.phrasings import evaluate_plans, fixture_sequences, load_set, plans_table
    from agrochat.console import fail
    from agrochat.errors import AgrochatError

    if not path.is_file():
        fail(f"{path}: no such phrasing set")
    try:
        rows = load_set(path)
        promoters, terminators = fixture_sequences(sequences)
    except (OSError, ValueError) as e:
        fail(str(e))
    assistant = _load(model)
    try:
        others = {
            f"planner_layer{(p := Planner.from_pretrained(d, assistant.model)).config.layer}": p
            for d in baselines
        }
    except AgrochatError as e:
        fail(str(e))
    done: dict[str, int] = {}

    def progress(name: str, d: int, t: int) -> None:  # visible when stdout is not a terminal too
        if d == t or d - done.get(name, 0) >= 50:
            done[name] = d
            typer.echo(f"{name}: {d}/{t}", err=True)

    results = evaluate_plans(assistant, rows, promoters, terminators, progress, others)
    table = plans_table(results)
    if report:
        report.mkdir(parents=True, exist_ok=True)
        prov = _provenance(str(path), model, assistant, len(rows))
        (report / "intents.json").write_text(
            json.dumps({"set": str(path), "results": results, "provenance": prov}, indent=1)
        )
        (report / "intents.md").write_text(f"Planning on {path} ({len(rows)} turns)\n\n{table}\n")
    typer.echo(table)


def _eval_answers(model: Path | None, n: int, sequences: Path, report: Path | None) -> None:
    """``agrochat eval --answers N``: the answers to N generated conversations, scored."""
    from agrochat.chat.phrasings import evaluate_answers

    assistant = _load(model)

    def progress(d: int, t: int) -> None:
        if d == t or d % 25 == 0:
            typer.echo(f"answers: {d}/{t}", err=True)

    res = evaluate_answers(assistant, n, sequences, progress=progress)
    lines = [
        f"{res['n']} answers ({'with' if res['writer'] else 'no'} writer): {res['decoder_written']:.1%} written by "
        f"the decoder, {res['fallbacks']} fell back ({res['fallback_rate']:.1%}); decoder-written share of characters {res['decoder_share']:.1%}; checker "
        f"violations {res['check_violations']}; numbers differing from predict() {res['number_mismatches']}; "
        f"median {res['median_seconds']:.2f} s per turn",
        "",
        "| operation | n | written by the decoder | decoder-written share |",
        "|---|---:|---:|---:|",
        *(f"| {op} | {r['n']} | {r['decoder']:.0%} | {r['share']:.0%} |" for op, r in res["per_op"].items()),
    ]
    table = "\n".join(lines)
    if report:
        report.mkdir(parents=True, exist_ok=True)
        prov = _provenance(f"generated conversations ({sequences})", model, assistant, res["n"])
        (report / "answers.json").write_text(json.dumps({**res, "provenance": prov}, indent=1))
        (report / "answers.md").write_text(table + "\n")
    typer.echo(table)


def eval_command(
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    split: str = typer.Option(
        "validation",
        "--split",
        help="validation | test | train: the rows scored; the official test split only with --split test, read "
        "once per shipped model",
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="source data (default ../shared/data) or a build"),
    keys: list[str] = typer.Option(
        None,
        "--key",
        help="task/tissue key(s) (default: every key with rows in the "
        "split; generated answers for the promoter and terminator keys)",
    ),
    limit: int = typer.Option(
        0,
        "--limit",
        help="a random subset of this many rows per key (0: all); also caps --generate (and --text-model's "
        "questions) at N",
    ),
    report: Path = typer.Option(None, "--report", help="write results.json, results.md and PNG plots here"),
    generate: int = typer.Option(
        200,
        "--generate",
        help="ask N questions per key in natural language "
        "through generation and parse the numbers from the text (0: skip)",
    ),
    text_model: Path = typer.Option(
        None,
        "--text-model",
        help="also ask a numeric=text (digits) model the same questions, for the head-vs-digits comparison",
    ),
    free_decoding: bool = typer.Option(
        False,
        "--free-decoding",
        help="let answers end before the number they "
        "were asked for (measures the decoder alone; default: held open)",
    ),
    intents: Path = typer.Option(
        None,
        "--intents",
        help="instead: score how turns are planned on a phrasing set (JSON lines, bench/phrasings/): the "
        "decoder's plan, every --baseline-planner, and the rules alone",
    ),
    baseline_planner: list[Path] = typer.Option(
        [],
        "--baseline-planner",
        help="with --intents: another planner folder to score beside (e.g. one reading the embeddings alone)",
    ),
    answers: int = typer.Option(
        0,
        "--answers",
        help="instead: answer N generated conversations (every operation) and score the answers: written by the "
        "decoder or fallen back, the checker, the decoder-written share of characters, numbers vs predict()",
    ),
    sequences: Path = typer.Option(
        Path("tests/fixtures"),
        "--sequences",
        help="with --intents: the folder with promoters_leaf_64.tsv and terminators_train_8.tsv that fill the "
        "phrasings' sequence slots",
    ),
):
    """Score the assistant on benchmark rows (validation; the official test split only with --split test): its
    generated answers (parsed from text) and the fast path, beside the authors' CNN and a k-mer ridge on the same
    rows (R², Pearson, Spearman, MAE, coverage). Every results JSON records its provenance."""
    from rich.console import Console
    from rich.progress import Progress

    if intents is not None:
        return _eval_intents(model, intents, sequences, report, baseline_planner)
    if answers > 0:
        return _eval_answers(model, answers, sequences, report)

    from agrochat.chat.evaluate import (
        evaluate_fast,
        evaluate_generated,
        markdown_table,
        published_table,
        save,
    )
    from agrochat.console import fail

    try:
        assistant = _load(model)
        other = _load(text_model) if text_model else None
    except AgrochatError as e:
        fail(str(e))
    head = assistant.model.config.numeric == "head"
    if not head and not generate:
        fail("a numeric=text model has no fast path; use --generate N")
    benchmark = [
        k for k in assistant.known_keys if k.split("/")[0] in ("promoter_strength", "terminator_strength")
    ]
    gen_keys = [k for k in keys if k in assistant.known_keys] if keys else benchmark
    try:
        from agrochat.data_gen.paths import resolve_data_dir
        from agrochat.data_gen.regression import rows_by_key

        have = rows_by_key(data_dir, split, assistant.known_keys, required=False)
        keys = keys or list(have)
        scored = [*(keys if head else []), *(gen_keys if generate or text_model else [])]
        scored = [k for k in dict.fromkeys(scored) if k in assistant.known_keys]
        if missing := [k for k in scored if k not in have]:
            rows_by_key(data_dir, split, missing)  # raises: that dataset has no such split
        where = data_dir if data_dir is not None else resolve_data_dir(None)
        prov = _provenance(split, model, assistant, sum(len(have[k]) for k in scored), where)
    except AgrochatError as e:  # the provenance above announces a test split on stderr
        fail(str(e))
    n_generate = min(generate, limit) if limit > 0 else generate  # --limit caps the generated questions too
    n_text = min(generate or 200, limit) if limit > 0 else generate or 200
    sections: list[str] = []
    results: dict = {k: {} for k in keys}
    plain = not sys.stderr.isatty()  # no live bar (a log, CI): a plain line per key every ~10 % instead
    with Progress(console=Console(stderr=True), disable=plain) as progress:
        bars: dict[str, object] = {}
        tenths: dict[str, int] = {}

        def tick(key, done, total, tag=""):
            if plain:
                step = done * 10 // max(total, 1)
                if tenths.get(key + tag, -1) < step:
                    tenths[key + tag] = step
                    print(f"{key}{tag}: {done}/{total}", file=sys.stderr, flush=True)
                return
            if key + tag not in bars:
                bars[key + tag] = progress.add_task(key + tag, total=total)
            progress.update(bars[key + tag], completed=done)

        try:
            if head:
                results = evaluate_fast(
                    assistant,
                    data_dir,
                    split,
                    keys,
                    limit,
                    progress=lambda k, d, t: tick(k, d, t, " (fast path)"),
                )
                sections.append("Fast path (same rows for every column):\n\n" + markdown_table(results))
            if generate:
                gen = evaluate_generated(
                    assistant,
                    data_dir,
                    split,
                    gen_keys,
                    n_generate,
                    progress=lambda k, d, t: tick(k, d, t, " (generated answers)"),
                    require_numbers=not free_decoding,
                )
                for key, g in gen.items():
                    results[key]["generation"] = g
                sections.insert(
                    0, "Generated answers, numbers parsed from the text:\n\n" + generated_table(gen)
                )
            if other is not None:
                tgen = evaluate_generated(
                    other,
                    data_dir,
                    split,
                    gen_keys,
                    n_text,
                    progress=lambda k, d, t: tick(k, d, t, " (digits model)"),
                )
                for key, g in tgen.items():
                    results[key]["text_model"] = {
                        **g.get("generated", {}),
                        "parse_failures": g["parse_failures"],
                        "questions_per_s": g["questions_per_s"],
                        "n_questions": g["n"],
                    }
                sections.append(
                    "The numeric=text (digits) model on the same questions:\n\n" + generated_table(tgen)
                )
        except AgrochatError as e:
            fail(str(e))
    if head:
        sections.append(published_table(results))
    from agrochat.chat.evaluate import evaluate_intents

    intents = evaluate_intents(assistant.known_keys)
    groups = ", ".join(f"{g} {v['accuracy']:.1%} of {v['n']}" for g, v in intents["groups"].items())
    sections.insert(
        0,
        f"Intent accuracy on held-out phrasings (key of every number, or a refusal): "
        f"{intents['accuracy']:.1%} of {intents['n']} ({groups})",
    )
    table = "\n\n".join(s for s in sections if s)
    if report:
        report.mkdir(parents=True, exist_ok=True)
        save({**results, "provenance": prov}, report / "results.json")
        intents_prov = {
            **prov,
            "split": "held-out phrasings (agrochat.data_gen.heldout)",
            "rows": intents["n"],
        }
        save({**intents, "provenance": intents_prov}, report / "intents.json")
        (report / "results.md").write_text(table + "\n")
        if head:
            try:
                from agrochat.chat.report import write_plots

                table += "\n\nplots: " + ", ".join(str(p) for p in write_plots(results, report))
            except ImportError:
                table += "\n\n(no plots: pip install 'agrochat[plot]' for matplotlib)"
    typer.echo(table)


def _variant_text(eff) -> str:
    verdict = "exceeds" if eff.exceeds else "is within"
    return (
        f"{eff.key}: {eff.description}: {eff.ref_value:.3f} -> {eff.alt_value:.3f} (change {eff.delta:+.3f} ± "
        f"{eff.uncertainty:.3f}, which {verdict} its uncertainty"
        + (f"; {eff.replicates} random replacements" if eff.replicates > 1 else "")
        + (f"; caution: {eff.ood_reason}" if eff.ood else "")
        + ")"
    )


def _design_text(res) -> str:
    lines = []
    for st in res.steps:
        vals = ", ".join(f"{k} {v:.3f} ± {st.stds[k]:.3f}" for k, v in st.values.items())
        muts = " ".join(st.mutations) or "start"
        lines.append(f"round {st.round}: {muts}: {vals}" + (f" [OOD: {st.ood_reason}]" if st.ood else ""))
    if res.stopped:
        lines.append(f"stopped: {res.stopped}")
    lines.append(f"designed: {res.best.sequence}")
    return "\n".join(lines)


def explain_command(
    sequence: str = typer.Argument(None, help="DNA sequence (or use --fasta)"),
    fasta: Path = typer.Option(None, "--fasta", "-f", help="FASTA file (the first record is explained)"),
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    task: str = typer.Option("promoter_strength", "--task"),
    tissue: str = typer.Option("leaf", "--tissue"),
    method: str = typer.Option(
        "ism", "--attribution", help="ism (in-silico mutagenesis) | deeplift_shap (cnn encoders)"
    ),
    plot: Path = typer.Option(None, "--plot", help="write the attribution logo (PNG) here"),
    heatmap: Path = typer.Option(None, "--heatmap", help="write the 4 x L substitution heat map (PNG) here"),
    tsv: Path = typer.Option(None, "--tsv", help="write the per-base effects (every substitution) here"),
    top: int = typer.Option(3, "--top", min=1, help="regions described in the text"),
    as_json: bool = typer.Option(
        False, "--json", help="print a JSON record (prediction, explanation, regions, attribution)"
    ),
):
    """Why the model predicts what it does: the regions its attribution marks, each named once with the motif
    profiles matching it (Jores et al. 2021 elements, JASPAR plants), and their effect when shuffled."""
    from agrochat.console import fail

    try:
        a = _load(model)
        seq = _one_sequence(sequence, fasta)
        res = a.explain(seq, task, tissue, top=top, plot=plot, heatmap=heatmap, method=method)
    except AgrochatError as e:
        fail(str(e))
    if tsv:
        res.to_tsv(tsv)
    if as_json:
        typer.echo(json.dumps(res.to_dict(), indent=1))
    else:
        typer.echo(res.text)
    for label, path in (("attribution logo", plot), ("heat map", heatmap), ("per-base effects", tsv)):
        if path:
            typer.echo(f"{label} written to {path}", err=True)


def variant_command(
    spec: str = typer.Argument(
        None, help="edits: G-30A (TSS-relative), A140G (1-based), ko:TATA, ins:TATA@-30"
    ),
    sequence: str = typer.Option(None, "--sequence", "-s", help="DNA sequence (or use --fasta)"),
    fasta: Path = typer.Option(None, "--fasta", "-f", help="FASTA file (the first record)"),
    other: str = typer.Option(None, "--other", help="compare with this second sequence instead of a spec"),
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    task: str = typer.Option("promoter_strength", "--task"),
    tissue: str = typer.Option("leaf", "--tissue"),
    replicates: int = typer.Option(5, "--replicates", help="random replacements per motif knockout"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Predicted effect of a variant (substitutions, motif knockouts or insertions) or of a second sequence."""
    from agrochat.console import fail

    try:
        a = _load(model)
        seq = _one_sequence(sequence, fasta)
        eff = a.variant(seq, spec, task, tissue, other=other, replicates=replicates)
    except AgrochatError as e:
        fail(str(e))
    typer.echo(json.dumps(eff.to_dict(), indent=1) if as_json else _variant_text(eff))


def design_command(
    sequence: str = typer.Option(None, "--sequence", "-s", help="start sequence (or use --fasta)"),
    fasta: Path = typer.Option(None, "--fasta", "-f", help="FASTA file (the first record)"),
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    task: str = typer.Option("promoter_strength", "--task"),
    tissue: str = typer.Option("leaf", "--tissue"),
    goal: str = typer.Option("stronger", "--goal", help="stronger | weaker | target"),
    target: float = typer.Option(None, "--target", help="with --goal target: the value to reach"),
    against: str = typer.Option(
        None, "--against", help="TASK/TISSUE that should go the other way (e.g. promoter_strength/leaf)"
    ),
    max_mutations: int = typer.Option(5, "--max-mutations", "-k", help="at most this many substitutions"),
    beam: int = typer.Option(1, "--beam", help="sequences kept per round (1: greedy)"),
    keep: str = typer.Option(
        None, "--keep", help="positions that must not change: -30,-29 (TSS-relative) or 140"
    ),
    keep_motif: list[str] = typer.Option(
        None, "--keep-motif", help="an annotated motif to keep (repeatable)"
    ),
    seed: int = typer.Option(0, "--seed"),
    plot: Path = typer.Option(None, "--plot", help="write the design plot (PNG) here"),
    as_json: bool = typer.Option(False, "--json"),
):
    """In-silico evolution toward a goal with at most K single-base substitutions (greedy or beam search)."""
    from agrochat.console import fail

    try:
        a = _load(model)
        seq = _one_sequence(sequence, fasta)
        other = tuple(against.split("/", 1)) if against else None
        res = a.design(
            seq,
            task,
            tissue,
            goal=goal,
            target=target,
            against=other,
            max_mutations=max_mutations,
            beam=beam,
            keep=keep,
            keep_motifs=tuple(keep_motif or ()),
            seed=seed,
            progress=True,
            plot=plot,
        )
    except AgrochatError as e:
        fail(str(e))
    if as_json:
        typer.echo(json.dumps({"stopped": res.stopped, "steps": [s.to_dict() for s in res.steps]}, indent=1))
    else:
        typer.echo(_design_text(res))
    if plot:
        typer.echo(f"plot written to {plot}", err=True)


def _one_sequence(sequence: str | None, fasta: Path | None) -> str:
    if bool(sequence) == bool(fasta):
        raise InputError("give either a sequence or --fasta")
    if fasta:
        from agrochat.chat.fasta import iter_fasta

        for rec in iter_fasta(fasta):
            return rec.sequence
        raise InputError(f"{fasta}: no FASTA record")
    return sequence

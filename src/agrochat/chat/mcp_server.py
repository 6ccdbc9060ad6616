"""``agrochat mcp``: agrochat's operations as tools of an MCP server (stdio), for other agents.

Six tools, each a thin call of a public :class:`~agrochat.chat.Assistant` method: ``predict``, ``compare``,
``rank``, ``explain``, ``variant`` and ``design``. Their input schemas come from the type hints below and their
results are structured (the pydantic models below, also sent as JSON text). A user error (bad DNA, unknown
task or tissue, a variant that does not apply) comes back as a tool error carrying its one-line message; the
server keeps running.

Run it with ``agrochat mcp [--model DIR]`` or ``python -m agrochat.chat.mcp_server [--model DIR]``; it needs
the ``mcp`` package (the ``serve`` extra).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from agrochat.domain import tasks as T
from agrochat.errors import AgrochatError, UnknownTaskError

from .assistant import Assistant
from .prediction import Prediction

INSTRUCTIONS = (
    "agrochat predicts how strongly a plant promoter or terminator (about 170 bp; promoters -165..+5 around "
    "the TSS) drives expression, with a calibrated uncertainty, and explains the prediction from the model's "
    "own evidence. task: promoter_strength, terminator_strength, natural_promoter, synthetic_promoter or "
    "tissue_expression; tissue: the assay system (leaf = tobacco leaves, protoplast = maize leaf protoplasts) "
    "or a tissue. Each key has its own scale: compare keys by percentile, not raw value. Predictions for "
    "untested sequences should be measured before relying on them."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

Sequence = Annotated[str, Field(description="DNA sequence (IUPAC letters; lowercase and U accepted)")]
Task = Annotated[
    str, Field(description="promoter_strength, terminator_strength, ... or a full task/tissue key")
]
Tissue = Annotated[
    str | None,
    Field(
        description="leaf (tobacco leaves), protoplast (maize leaf protoplasts), or a tissue; null with a key"
    ),
]


# ---- structured results --------------------------------------------------------------------------------------
class PredictionResult(BaseModel):
    """One calibrated number (the fields of ``agrochat predict --json``)."""

    id: str
    key: str = Field(description="the task/tissue key the number is for")
    value: float
    uncertainty: float = Field(description="predicted standard deviation (calibrated; widened when ood)")
    interval68: list[float] | None = Field(
        description="(low, high) holding 68 % of the predictive distribution"
    )
    interval95: list[float] | None = Field(description="(low, high) holding 95 %")
    p_floor: float | None = Field(
        None, description="chance the measurement is at the key's floor (some keys)"
    )
    percentile: float = Field(description="percentile among the measured sequences of this key")
    level: str
    unit: str
    ood: bool = Field(description="the sequence is unlike the training sequences (interval doubled)")
    ood_reason: str
    text: str = Field(description="the number as agrochat writes it")
    explanation: str = Field("", description="the annotated motifs and their published average effects")
    motifs: list[dict[str, Any]] = Field(default_factory=list, description="motifs the annotator found")
    sequence: str = Field(description="the normalised sequence")


class Predictions(BaseModel):
    key: str
    predictions: list[PredictionResult]


class Difference(BaseModel):
    id: str
    below_best: float = Field(description="the best sequence's value minus this one's")
    combined_uncertainty: float = Field(description="hypot of the two uncertainties")
    distinguishable: bool = Field(description="below_best exceeds the combined uncertainty")


class Comparison(BaseModel):
    key: str
    unit: str
    predictions: list[PredictionResult] = Field(description="in the order given (ids seq1, seq2, ...)")
    best: str = Field(description="id of the highest prediction")
    differences: list[Difference] = Field(description="every other sequence against the best")


class RankedTissue(PredictionResult):
    tissue: str


class Ranking(BaseModel):
    species: str
    unit: str
    tissues: list[RankedTissue] = Field(
        description="every tissue of the species this model knows, highest first"
    )
    spread: float = Field(description="highest minus lowest value")
    weak: bool = Field(description="the spread is smaller than the median uncertainty: the ranking is weak")


class Effect(BaseModel):
    """A predicted variant effect (``VariantEffect``); ``exceeds``: ``|delta| > uncertainty``."""

    label: str
    description: str
    key: str
    ref_value: float
    ref_std: float
    alt_value: float = Field(description="mean over the random replacements for knockouts")
    alt_std: float
    delta: float = Field(description="alt_value - ref_value")
    uncertainty: float
    exceeds: bool
    replicates: int
    ood: bool
    ood_reason: str


class VariantResult(Effect):
    alt_sequence: str = Field(description="the edited sequence (the first replacement for a knockout)")


class MotifMatchResult(BaseModel):
    name: str = Field(
        description="readable: 'TATA box', 'TF_65 (Trihelix)', 'ATMYB31 (MYB; JASPAR MA1738.1)'"
    )
    source: str
    start: int = Field(description="1-based, in the sequence")
    end: int = Field(description="1-based, inclusive")
    strand: str
    p_value: float | None = Field(description="FIMO p-value (None for the poly(A) signal scan)")


class RegionResult(BaseModel):
    start: int = Field(description="1-based, in the sequence")
    end: int = Field(description="1-based, inclusive")
    relative_start: int = Field(description="relative to the TSS (promoters) or cleavage site (terminators)")
    relative_end: int
    sequence: str
    attribution: float = Field(description="summed per-base attribution")
    effect: float = Field(description="prediction minus its mean with the region's bases shuffled (20 times)")
    effect_spread: float = Field(description="standard deviation over the shuffles")
    matches: list[MotifMatchResult] = Field(description="profiles matching the region, Jores elements first")


class Explanation(BaseModel):
    prediction: PredictionResult
    explanation: str = Field(
        description="the regions, each named once with its matches, then library averages"
    )
    attribution_method: str = Field(description="ism (in-silico mutagenesis) or deeplift_shap")
    regions: list[RegionResult] = Field(description="the regions the attribution marks, largest effect first")
    attribution: list[float] = Field(description="per-base attribution of the observed base")


class DesignStepResult(BaseModel):
    round: int
    mutations: list[str] = Field(description="cumulative, 1-based labels like A57G (a variant spec too)")
    values: dict[str, float]
    uncertainties: dict[str, float]
    objective: float
    ood: bool
    ood_reason: str
    sequence: str


class Design(BaseModel):
    key: str
    goal: str
    start_sequence: str
    best_sequence: str
    mutations: list[str] = Field(description="the substitutions of the best sequence, 1-based (A57G)")
    start_value: float
    best_value: float
    best_uncertainty: float
    stopped: str = Field(description="why it stopped before max_mutations ('' when it used them all)")
    steps: list[DesignStepResult] = Field(description="the path, round 0 (the start) first")


# ---- the server ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """An :class:`AgrochatError` as a tool error with its one-line message (any other exception is a bug: the
    SDK logs its traceback and the client sees only that the tool failed)."""
    try:
        yield
    except AgrochatError as e:
        raise ToolError(" ".join(str(e).split())) from None


def _row(p: Prediction, cls: type[PredictionResult] = PredictionResult, **extra) -> PredictionResult:
    row = p.to_dict()
    row.pop("attribution")
    return cls.model_validate({**row, **extra})


def build_server(assistant: Assistant) -> MCPServer:
    """An MCP server whose tools call ``assistant`` (one model call at a time)."""
    server = MCPServer(name="agrochat", instructions=INSTRUCTIONS, log_level="WARNING")
    lock = threading.Lock()  # sync tools run on worker threads; the model answers one call at a time

    @server.tool(annotations=READ_ONLY)
    def predict(
        sequences: Annotated[list[str], Field(description="DNA sequences (each about 170 bp)", min_length=1)],
        task: Task = "promoter_strength",
        tissue: Tissue = "leaf",
    ) -> Predictions:
        """Predict the strength of plant promoters (or terminators, or expression in a tissue) with a calibrated
        uncertainty, 68 %/95 % intervals, percentile among measured sequences, level, and the motifs found."""
        with _user_errors(), lock:
            preds = assistant.predict(list(sequences), task, tissue)
        return Predictions(key=preds[0].key, predictions=[_row(p) for p in preds])

    @server.tool(annotations=READ_ONLY)
    def compare(
        sequences: Annotated[list[str], Field(description="two or more DNA sequences", min_length=2)],
        task: Task = "promoter_strength",
        tissue: Tissue = "leaf",
    ) -> Comparison:
        """Compare sequences under one task/tissue: which is strongest, and whether each difference from it is
        larger than the combined uncertainty (likely real) or not (cannot tell them apart)."""
        with _user_errors(), lock:
            preds = assistant.predict(list(sequences), task, tissue, explanations=False)
        best = max(preds, key=lambda p: p.value)
        diffs = []
        for p in preds:
            if p is best:
                continue
            comb = float(np.hypot(best.uncertainty, p.uncertainty))
            gap = best.value - p.value
            diffs.append(
                Difference(id=p.id, below_best=gap, combined_uncertainty=comb, distinguishable=gap > comb)
            )
        return Comparison(
            key=best.key,
            unit=best.unit,
            predictions=[_row(p) for p in preds],
            best=best.id,
            differences=diffs,
        )

    @server.tool(annotations=READ_ONLY)
    def rank(
        sequence: Sequence,
        species: Annotated[str, Field(description="a species with a tissue atlas: maize or sorghum")],
    ) -> Ranking:
        """Predicted expression of one gene's promoter in every tissue of a species this model knows (the
        tissue_expression keys), highest first. Each value has its own uncertainty; a spread smaller than a
        typical uncertainty means the ranking is weak."""
        name = species.strip().lower()
        name = {v.lower(): k for k, v in T.EXPRESSION_SPECIES.items()}.get(name, name)
        prefix = f"{T.TISSUE}/{name}:"
        keys = [k for k in assistant.known_keys if k.startswith(prefix)]
        with _user_errors():
            if not keys:
                have = sorted({k.split("/", 1)[1].split(":", 1)[0] for k in assistant.known_keys if ":" in k})
                raise UnknownTaskError(
                    f"this model has no tissue expression keys for {species!r}"
                    + (f"; it has them for: {', '.join(have)}" if have else "")
                )
            with lock:
                seq = assistant.check_sequence(sequence)
                got = [assistant.predict([seq], key, None, explanations=False)[0] for key in keys]
        order = sorted(got, key=lambda p: p.value, reverse=True)
        rows = [_row(p, RankedTissue, tissue=p.key.split(":", 1)[1]) for p in order]
        spread = order[0].value - order[-1].value
        typical = float(np.median([p.uncertainty for p in order]))
        return Ranking(species=name, unit=order[0].unit, tissues=rows, spread=spread, weak=spread < typical)

    @server.tool(annotations=READ_ONLY)
    def explain(
        sequence: Sequence,
        task: Task = "promoter_strength",
        tissue: Tissue = "leaf",
        top: Annotated[int, Field(description="how many regions the text describes", ge=1, le=10)] = 3,
    ) -> Explanation:
        """Why the model predicts what it does: the regions its in-silico mutagenesis marks (seqlets), each
        with its effect when its bases are shuffled and the motif profiles matching it (Jores et al. 2021
        elements, JASPAR 2026 plants), and the per-base attribution."""
        with _user_errors(), lock:
            seq = assistant.check_sequence(sequence)
            res = assistant.explain(seq, task, tissue, top=top)
        d = res.to_dict()
        return Explanation(
            prediction=_row(res.prediction),
            explanation=d["explanation"],
            attribution_method=d["attribution_method"],
            regions=[RegionResult.model_validate(r) for r in d["regions"]],
            attribution=d["attribution"],
        )

    @server.tool(annotations=READ_ONLY)
    def variant(
        sequence: Sequence,
        spec: Annotated[
            str,
            Field(
                description="edits, applied together: G-30A (relative to the TSS), A140G (1-based), "
                "ko:TATA (knock a motif out), ins:TATA@-30 (insert one)"
            ),
        ],
        task: Task = "promoter_strength",
        tissue: Tissue = "leaf",
    ) -> VariantResult:
        """The predicted effect of a variant (substitutions, motif knockouts, insertions) on one task/tissue:
        reference and edited values, the change and its uncertainty, and whether the change exceeds it."""
        with _user_errors(), lock:
            eff = assistant.variant(sequence, spec, task, tissue)
        return VariantResult.model_validate(eff.to_dict())

    @server.tool(annotations=READ_ONLY)
    def design(
        sequence: Sequence,
        task: Task = "promoter_strength",
        tissue: Tissue = "leaf",
        goal: Literal["stronger", "weaker"] = "stronger",
        max_mutations: Annotated[int, Field(description="at most this many substitutions", ge=1, le=20)] = 5,
    ) -> Design:
        """In-silico evolution: greedily apply the single-base substitutions that make the sequence stronger (or
        weaker) for one task/tissue, at most max_mutations of them. These are predictions for untested
        sequences: measure them before relying on them."""
        with _user_errors(), lock:
            res = assistant.design(sequence, task, tissue, goal=goal, max_mutations=max_mutations)
        key = res.config.keys[0]
        start, best = res.start, res.best
        return Design(
            key=key,
            goal=goal,
            start_sequence=start.sequence,
            best_sequence=best.sequence,
            mutations=list(best.mutations),
            start_value=start.values[key],
            best_value=best.values[key],
            best_uncertainty=best.stds[key],
            stopped=res.stopped,
            steps=[DesignStepResult.model_validate(s.to_dict()) for s in res.steps],
        )

    return server


def main(model: Path | None = None) -> None:
    """Load the model (default: the shipped one) and serve its tools over stdio until the client hangs up."""
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the protocol's: nothing else may write there
        assistant = Assistant.from_pretrained(model)
    build_server(assistant).run("stdio")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m agrochat.chat.mcp_server", description=main.__doc__)
    parser.add_argument("--model", type=Path, default=None, help="checkpoint directory (default: shipped)")
    try:
        main(parser.parse_args().model)
    except AgrochatError as e:
        sys.exit(f"error: {e}")


__all__ = ["build_server", "main"]

"""agrochat's own endpoints: batch prediction, mutagenesis with its plot, the task keys, health."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from agrochat.chat.dialogue import key_label
from agrochat.chat.fasta import iter_fasta
from agrochat.errors import AgrochatError

from .errors import ApiError, user_error
from .schemas import ExplainRequest, PredictRequest
from .state import ServerState, record, state

router = APIRouter(tags=["agrochat"])


def _fasta_records(text: str, st: ServerState) -> list[tuple[str, str]]:
    """Records of an uploaded FASTA text, parsed from a file in a private temp dir (removed after)."""
    limit = st.config.max_sequences
    with tempfile.TemporaryDirectory(prefix="agrochat-serve-") as tmp:
        path = Path(tmp) / "upload.fa"
        path.write_text(text)
        out = []
        try:
            for r in iter_fasta(path):
                if len(out) == limit:
                    raise ApiError(
                        400, f"more than {limit} FASTA records (the limit per request)", code="too_many"
                    )
                st.check_length(r.sequence, r.id)
                out.append((r.id, r.sequence))
        except AgrochatError as e:  # a 400; anything else is a bug
            raise ApiError(400, str(e).replace(str(path), "upload")) from None
    return out


def _records(req: PredictRequest, st: ServerState) -> list[tuple[str, str]]:
    if (req.sequences is None) == (req.fasta is None):
        raise ApiError(400, "give either sequences (a list) or fasta (FASTA text)")
    if req.fasta is not None:
        return _fasta_records(req.fasta, st)
    if not req.sequences:
        raise ApiError(400, "sequences is empty")
    if len(req.sequences) > st.config.max_sequences:
        raise ApiError(
            400,
            f"{len(req.sequences)} sequences, more than the limit of {st.config.max_sequences}",
            code="too_many",
        )
    out = []
    for i, s in enumerate(req.sequences):
        rid, seq = (f"seq{i + 1}", s) if isinstance(s, str) else (s.id, s.sequence)
        st.check_length(seq, rid)
        out.append((rid, seq))
    return out


@router.post("/v1/predict", summary="Score sequences (the records of `agrochat predict --json`)")
async def predict(req: PredictRequest, request: Request) -> JSONResponse:
    st = state(request)
    key = st.key(req.task, req.tissue)
    records = _records(req, st)
    preds = await st.predict(records, key, req.explanations)
    body = {"object": "list", "model": st.config.model_id, "key": key, "data": [record(p) for p in preds]}
    return JSONResponse(body)  # plain JSON values already: no pass through FastAPI's encoder


def _explain(assistant, seq: str, key: str, plot: bool, heatmap: bool = False) -> dict:
    """On the model thread: the explanation, its pictures written to (and read back from) a private temp dir."""
    with tempfile.TemporaryDirectory(prefix="agrochat-serve-") as tmp:
        logo = Path(tmp) / "logo.png" if plot else None
        heat = Path(tmp) / "heatmap.png" if heatmap else None
        res = assistant.explain(seq, key, None, plot=logo, heatmap=heat)
        image, heat_image = (
            base64.b64encode(p.read_bytes()).decode() if p is not None else None for p in (logo, heat)
        )
    row = record(res.prediction)
    return {
        "prediction": row,
        "explanation": res.text,
        "attribution_method": res.method,
        "regions": [r.to_dict() for r in res.regions],
        "attribution": [round(float(x), 5) for x in res.attribution],
        "per_base": [round(float(x), 5) for x in res.per_base],
        "plot_png": image,
        "heatmap_png": heat_image,
    }


@router.post(
    "/v1/explain",
    summary="Why: the regions of one sequence, named with their motif matches, and its attribution logo (PNG, base64)",
)
async def explain(req: ExplainRequest, request: Request) -> dict:
    st = state(request)
    key = st.key(req.task, req.tissue)
    st.check_length(req.sequence, "sequence")
    try:
        seq = st.assistant.check_sequence(req.sequence)
    except AgrochatError as e:  # a 400; anything else is a bug
        raise user_error(e) from None
    return await st.call(_explain, st.assistant, seq, key, req.plot, req.heatmap)


@router.get("/v1/tasks", summary="The task/tissue keys this model answers for")
async def tasks(request: Request) -> dict:
    st = state(request)
    keys = st.assistant.known_keys
    default = "promoter_strength/leaf" if "promoter_strength/leaf" in keys else keys[0]
    return {"default": default, "keys": [{"key": k, "label": key_label(k)} for k in keys]}


@router.get("/health", summary="Liveness and queue depth")
async def health(request: Request) -> dict:
    st = state(request)
    return {
        "status": "ok",
        "model": st.config.model_id,
        "keys": len(st.assistant.known_keys),
        "queue": {
            "pending": st.worker.pending,
            "capacity": st.worker.capacity,
            "predict_sequences": st.batcher.queued,
            "predict_batches": st.batcher.batches,
        },
    }


@router.get("/v1/limits", summary="The request limits of this server")
async def limits(request: Request) -> dict:
    from dataclasses import asdict

    return asdict(state(request).config)

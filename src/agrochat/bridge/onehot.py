"""The model's number for one key as a function of one-hot bases: what attribution libraries call.

Attribution tools of the field (tangermeme's saturation mutagenesis, DeepLIFT/SHAP, ablation, marginalisation)
take a torch module that maps one-hot sequences ``(B, 4, L)`` to outputs. :class:`OneHotPredictor` is that module
for a :class:`~agrochat.bridge.model.DnaLanguageModel` and one task/tissue key: the mean of the number paths that
answer the key (the model's own and its ensemble members, combined as the fast path combines them), in the key's
label units. With a CNN encoder and a DNA readout (``readout: dna``) it is differentiable in the input; otherwise
(a tokenised encoder such as AgroNT, or a number read from the decoder) it reads the bases back from the one-hot
input and scores them with the ``score`` function it is given: usable for perturbation methods only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from agrochat.errors import ConfigError

from .cnn import BASE_IDS, one_hot

BASES = "ACGT"


def one_hot_sequences(sequences: list[str]) -> torch.Tensor:
    """Sequences of one length -> (N, 4, L) float one-hot (A, C, G, T); any other letter is 0.25 everywhere, as
    the CNN encoder reads an N (:func:`~agrochat.bridge.cnn.one_hot`)."""
    if len({len(s) for s in sequences}) > 1:
        raise ConfigError("one-hot batches need sequences of one length")
    codes = torch.full((256,), BASE_IDS["N"], dtype=torch.long)
    for b in BASES:
        codes[ord(b)] = BASE_IDS[b]
    ids = codes[torch.tensor([list(s.upper().encode()) for s in sequences], dtype=torch.long)]  # (N, L)
    return one_hot(ids).contiguous()  # (N, 4, L)


def bases_of(x: torch.Tensor) -> list[str]:
    """(N, 4, L) one-hot -> sequences (a column that is not one base reads as N)."""
    peak, idx = x.max(1)  # (N, L)
    idx = torch.where(peak > 0.5, idx, torch.full_like(idx, 4))  # 4: N
    return ["".join("ACGTN"[i] for i in row) for row in idx.tolist()]


class OneHotPredictor(nn.Module):
    """``forward(x)``: one-hot bases ``(B, 4, L)`` -> ``(B, 1)``, the model's predicted value for ``key``.

    Sequences in a batch share one length (attribution batches do). Equals the fast path's value
    (:meth:`DnaLanguageModel.score` / ``Assistant.predict``) for the same sequence and key."""

    def __init__(
        self,
        model: nn.Module,
        key: str,
        score: Callable[[Sequence[str]], np.ndarray] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.key = key
        self.score = score
        paths = model.answering_paths(key)
        self.differentiable = model.reads_dna_only and all(
            hasattr(enc, "forward_one_hot") for enc, *_ in paths
        )
        self.paths = paths if self.differentiable else []
        self.mean, self.std = model.config.numeric_head.stats(key)
        if not self.differentiable and score is None:
            raise ConfigError("this model has no one-hot path: give OneHotPredictor a score function")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 4, L)
        if not self.differentiable:
            return self._by_bases(x)
        from .model import _path_numbers

        b, _, length = x.shape
        mask = torch.ones(b, length, dtype=torch.long, device=x.device)  # (B, L)
        means = []
        for enc, proj, head, kid in self.paths:
            h, hmask = enc.forward_one_hot(x.float(), mask)  # (B, L', H), (B, L')
            m, _ = _path_numbers(proj, head, h, hmask, [1] * b, torch.full((b,), kid, device=x.device))
            means.append(m)  # (B,) normalised
        return (torch.stack(means).mean(0) * self.std + self.mean)[:, None]  # (B, 1)

    @torch.no_grad()
    def _by_bases(self, x: torch.Tensor) -> torch.Tensor:
        values = np.asarray(self.score(bases_of(x)), dtype=np.float32)  # (B,)
        return torch.from_numpy(values)[:, None].to(x.device)  # (B, 1)

    def require_gradients(self, method: str) -> None:
        """A one-line error when ``method`` needs gradients through the encoder and it has none."""
        if not self.differentiable:
            raise ConfigError(
                f"{method} needs gradients from one-hot bases, which only the cnn encoder has; "
                "use in-silico mutagenesis (ism) with this model"
            )

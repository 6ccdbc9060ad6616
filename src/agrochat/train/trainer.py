"""The trainer: runs the stages of a :class:`~agrochat.train.config.TrainConfig` (regress -> align -> instruct)
through accelerate: optimisation, evaluation, keep-best snapshots, resumable checkpoints and metrics.

Data encoding lives in :mod:`agrochat.train.data`; what trains in each stage is decided by
:meth:`~agrochat.train.config.StageConfig.trainable_modes` and applied by :mod:`agrochat.bridge.trainable`.
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from torch import nn
from tqdm.auto import tqdm

from agrochat.bridge.build import build_model
from agrochat.bridge.head import gaussian_nll
from agrochat.bridge.model import DnaLanguageModel
from agrochat.bridge.ood import OodReference, fit_reference
from agrochat.bridge.trainable import set_train_mode, set_trainable
from agrochat.errors import ConfigError

from . import checkpoint as ck
from .batching import TokenBudgetSampler
from .config import REGRESS, StageConfig, TrainConfig
from .data import StageData, TrainingData, stage_rows
from .metrics import metrics_by_key
from .probe import PooledProbe


class TrainModule(nn.Module):
    """Model + regression probe under one module, so one DDP wrapper serves every stage. ``forward(kind, batch)``
    takes the stage kind (:attr:`StageConfig.kind`) and a batch of :meth:`StageData.collate`."""

    def __init__(self, model: DnaLanguageModel, probe: PooledProbe) -> None:
        super().__init__()
        self.model = model
        self.probe = probe
        self.reads_dna = model.numeric_head.reads_dna
        self.num_loss = "nll"  # set per stage (see StageConfig.num_loss)

    def forward(self, kind: str, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        """Losses (scalars) and, for the numbers, normalised ``num_mean``/``num_log_var`` (M,) per target."""
        if kind == REGRESS:
            h, mask = self.model.encoder(
                batch["dna_input_ids"], batch["dna_attention_mask"]
            )  # (B, T, H), (B, T)
            rows = batch["num_row_index"]  # (M,) which sequence each target belongs to
            if self.reads_dna:  # train the model's own head on the projected DNA: nothing to re-learn later
                proj, pmask = self.model.projector(h, mask)  # (B, T', D), (B, T')
                mean, log_var = self.model.numeric_head(
                    None, batch["num_key_ids"], proj, pmask[rows], ctx_rows=rows
                )
            else:
                mean, log_var = self.probe(h[rows], mask[rows], batch["num_key_ids"])
            loss = regression_loss(
                mean, log_var, batch["num_targets"], batch.get("num_weights"), self.num_loss
            )
            return {"loss": loss, "num_loss": loss, "num_mean": mean, "num_log_var": log_var}
        out = self.model(**batch)
        return {
            "loss": out.loss,
            "lm_loss": out.lm_loss,
            "num_loss": out.num_loss,
            "num_mean": out.num_mean,
            "num_log_var": out.num_log_var,
        }


def regression_loss(
    mean: torch.Tensor,
    log_var: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    kind: str = "nll",
) -> torch.Tensor:
    """Weighted mean over targets (M,) of the Gaussian NLL (``nll``) or of squared error for the mean plus the
    NLL of the variance around the detached mean (``mse_nll``)."""
    if kind == "nll" and weight is None:
        return gaussian_nll(mean, log_var, target)
    y = target.to(mean.dtype)
    around = mean.detach() if kind == "mse_nll" else mean
    per = 0.5 * (log_var + (y - around) ** 2 / log_var.exp().clamp(min=1e-6))  # (M,)
    if kind == "mse_nll":
        per = per + (y - mean) ** 2
    if weight is None:
        return per.mean()
    return (per * weight).sum() / weight.sum().clamp(min=1e-12)


def release_memory() -> None:
    """Give freed heap pages back to the OS: variable batch shapes fragment glibc's heap on CPU, and without
    this a long run's RSS grows by gigabytes."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _lr_lambda(total: int, warmup: int, schedule: str = "cosine") -> Callable[[int], float]:
    """Multiplier of the peak lr at each step: ``cosine`` warms up from 0 and decays to 0; ``onecycle`` warms up
    from 1/25 and decays to 1e-4 (torch's OneCycleLR with cosine annealing)."""
    start, end = (1 / 25, 1e-4) if schedule == "onecycle" else (0.0, 0.0)

    def f(step: int) -> float:
        if step < warmup:
            return start + (1 - start) * (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return f


def _beta1(lr_mult: float, low: float = 0.85, high: float = 0.95) -> float:
    """OneCycle momentum: Adam's beta1 at a learning-rate multiplier (1 at the peak): ``low`` there, ``high`` at
    the ends, linear in the multiplier in between."""
    return high - (high - low) * min(max(lr_mult, 0.0), 1.0)


class Trainer:
    """Trains the model of ``cfg`` on ``data``, stage by stage (``resume``: from the latest complete checkpoint
    under ``output_dir/checkpoints``). :meth:`run` returns each stage's final validation metrics and writes the
    model to ``output_dir/model``."""

    def __init__(self, cfg: TrainConfig, data: TrainingData, resume: bool = False) -> None:
        self.cfg, self.data = cfg, data
        self.out = Path(cfg.output_dir)
        self.ckpt_root = self.out / "checkpoints"
        ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
        # cpu=True without CUDA: under torchrun / `accelerate launch --multi_gpu` this gives gloo DDP on CPUs
        self.acc = Accelerator(
            cpu=not torch.cuda.is_available(),
            mixed_precision=cfg.mixed_precision,
            kwargs_handlers=[ddp],
            gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        )
        self.main = self.acc.is_main_process
        set_seed(cfg.seed)
        if data.norm:
            cfg.model.numeric_head.norm = {
                k: list(v) for k, v in data.norm.items() if k in cfg.model.numeric_head.keys
            }
            cfg.model.numeric_head.units = {
                k: v for k, v in data.units.items() if k in cfg.model.numeric_head.keys
            }
        self.state = {
            "stage": cfg.start_stage,
            "stage_done": False,
            "step": 0,
            "epoch": 0,
            "batch": 0,
            "history": [],
        }
        latest = (
            ck.list_checkpoints(self.ckpt_root)[-1]
            if resume and ck.list_checkpoints(self.ckpt_root)
            else None
        )
        if latest is not None:
            model = DnaLanguageModel.from_pretrained(latest / "model", trainable=True)
        else:
            model = build_model(cfg.model)
            if cfg.init_from:
                _init_from(model, cfg.init_from)
        probe = PooledProbe(model.encoder.hidden_size, model.config.numeric_head)
        self.module = TrainModule(model, probe)
        self.resume_from = latest
        if latest is not None:
            ck.load_model_part(self.module.probe, latest / "probe.safetensors")
            self.state = ck.load_json(latest / ck.STATE_FILE)
        self.log_path = self.out / "log.jsonl"
        self.tb = self._tensorboard()

    # ---- helpers ---------------------------------------------------------------------------------------------
    def _tensorboard(self):
        """A TensorBoard writer on the main process when asked for and installed, else None."""
        if not (self.cfg.tensorboard and self.main):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(str(self.out / "tensorboard"))

    def _log(self, record: dict) -> None:
        """Append ``record`` to ``log.jsonl`` (and its numbers to TensorBoard), on the main process."""
        if not self.main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in _flatten(record).items():
                if isinstance(v, (int, float)) and k not in ("step", "stage_index"):
                    self.tb.add_scalar(k, v, record.get("global_step", 0))

    def _rows(self, stage: StageConfig, split: str) -> list:
        """The rows of ``split`` this stage trains on (see :func:`~agrochat.train.data.stage_rows`)."""
        return stage_rows(self.data, stage, split, set(self.cfg.model.numeric_head.keys))

    @torch.no_grad()
    def _fit_ood(self, model: DnaLanguageModel) -> OodReference | None:
        """The out-of-distribution reference of the final encoder, from the training sequences."""
        keys = set(self.cfg.model.numeric_head.keys)
        pairs = [(r.sequence, r.key) for r in self.data.regression.get("train", []) if r.key in keys]
        if not pairs:
            return None
        was = model.training
        model.eval()
        ref = fit_reference(
            pairs, lambda seqs: model.dna_features(seqs).float().cpu().numpy(), seed=self.cfg.seed
        )
        model.train(was)
        return ref

    def _train_mode(self, stage: StageConfig, module: nn.Module) -> None:
        """Train mode for what this stage trains, eval mode for its frozen parts (see
        :func:`~agrochat.bridge.trainable.set_train_mode`)."""
        module.train()  # the (maybe DDP-wrapped) module, probe included
        set_train_mode(self.module.model, stage.trainable_modes(self.module.reads_dna))

    def _configure_stage(self, stage: StageConfig) -> None:
        """Set what trains in this stage (as :meth:`StageConfig.trainable_modes` decides) and its loss."""
        reads_dna = self.module.reads_dna
        set_trainable(self.module.model, stage.trainable_modes(reads_dna))
        self.module.probe.requires_grad_(stage.trains_probe(reads_dna))
        self.module.num_loss = stage.num_loss

    # ---- main loop -------------------------------------------------------------------------------------------
    def run(self) -> dict:
        """Run the stages not done yet; fit the OOD reference and save the final model. Metrics per stage name."""
        results = {}
        for si, stage in enumerate(self.cfg.stages):
            if si < self.state["stage"] or (si == self.state["stage"] and self.state["stage_done"]):
                continue
            if si > self.state["stage"]:
                self.state.update(stage=si, stage_done=False, step=0, epoch=0, batch=0)
            results[stage.name] = self._run_stage(si, stage)
        model = self.acc.unwrap_model(self.module).model
        if self.main:
            model.ood = self._fit_ood(model)
            model.save_pretrained(self.out / "model")
            ck.save_json(self.out / "metrics.json", {"stages": results, "history": self.state["history"]})
        self.acc.wait_for_everyone()
        return results

    def _run_stage(self, si: int, stage: StageConfig) -> dict:
        """Train stage ``si`` (resuming mid-stage when the state says so); its final validation metrics."""
        cfg = self.cfg
        self._configure_stage(stage)
        model = self.module.model
        train = StageData(
            model,
            stage,
            self._rows(stage, "train"),
            cfg.seed,
            stage.max_examples,
            self.main,
            balance=stage.balance_tasks,
            augment=True,
        )
        val = StageData(
            model,
            stage,
            self._rows(stage, "validation"),
            cfg.seed + 1,
            stage.eval_examples,
            False,
            balance=True,
        )
        sampler = TokenBudgetSampler(
            train.lengths,
            stage.max_tokens,
            stage.max_batch_size,
            seed=cfg.seed + si,
            rank=self.acc.process_index,
            world_size=self.acc.num_processes,
        )
        per_epoch = len(sampler.batches(0))
        total = (
            math.ceil(stage.epochs * per_epoch / cfg.gradient_accumulation_steps) if stage.epochs > 0 else 0
        )
        if stage.max_steps:
            total = min(total, stage.max_steps) if total else stage.max_steps
        named = [(n, p) for n, p in self.module.named_parameters() if p.requires_grad]
        params = [p for _, p in named]
        tokens = [p for n, p in named if "trainable_tokens" in n]
        groups = [{"params": [p for n, p in named if "trainable_tokens" not in n]}]
        if tokens:
            groups.append({"params": tokens, "lr": stage.lr * stage.token_lr_scale, "weight_decay": 0.0})
        optimizer = torch.optim.AdamW(groups, lr=stage.lr, weight_decay=stage.weight_decay)
        lr_mult = _lr_lambda(total, int(stage.warmup_ratio * total), stage.schedule)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_mult)
        if self.resume_from is not None and self.state["stage"] == si and self.state["step"] > 0:
            tensors = ck.load_file(str(self.resume_from / "optimizer.safetensors"))
            optimizer.load_state_dict(
                ck.optimizer_from_safetensors(tensors, ck.load_json(self.resume_from / "optimizer.json"))
            )
            scheduler.load_state_dict(ck.load_json(self.resume_from / "scheduler.json"))
            ck.set_rng_state(
                ck.load_file(str(self.resume_from / "rng.safetensors")),
                ck.load_json(self.resume_from / "rng.json"),
            )
        module, optimizer = self.acc.prepare(self.module, optimizer)
        kind = stage.kind
        step, epoch, start = self.state["step"], self.state["epoch"], self.state["batch"]
        bar = tqdm(
            total=total,
            initial=step,
            desc=f"stage {si + 1}/{len(cfg.stages)} {stage.name}",
            disable=not self.main,
            mininterval=2.0,
            dynamic_ncols=True,
        )
        t0, seen_seq, seen_tok, running = time.time(), 0, 0, []
        self._train_mode(stage, module)
        while step < total:
            batches = sampler.batches(epoch)
            for bi in range(start, len(batches)):
                batch = {k: v.to(self.acc.device) for k, v in train.collate(batches[bi], epoch).items()}
                with self.acc.accumulate(module):
                    out = module(kind, batch)
                    self.acc.backward(out["loss"])
                    if self.acc.sync_gradients and cfg.grad_clip:
                        self.acc.clip_grad_norm_(params, cfg.grad_clip)
                    if stage.cycle_momentum:  # computed from the step, so a resumed run continues the cycle
                        for group in optimizer.param_groups:
                            group["betas"] = (_beta1(lr_mult(step)), group["betas"][1])
                    optimizer.step()
                    optimizer.zero_grad()
                seen_seq += len(batches[bi])
                seen_tok += sampler.padded_tokens(batches[bi])
                running.append(
                    {k: float(v.detach()) for k, v in out.items() if k.endswith("loss") and v is not None}
                )
                if not self.acc.sync_gradients:
                    continue
                step += 1
                scheduler.step()
                self.state.update(step=step, epoch=epoch, batch=bi + 1)
                dt = max(time.time() - t0, 1e-9)
                bar.update(1)
                bar.set_postfix(
                    loss=f"{running[-1]['loss']:.3f}",
                    seq_s=f"{seen_seq / dt:.1f}",
                    tok_s=f"{seen_tok / dt:.0f}",
                )
                if step % 50 == 0:
                    release_memory()
                if step % cfg.log_every == 0 or step == total:
                    rec = {k: float(np.mean([r[k] for r in running if k in r])) for k in running[-1]}
                    self._log(
                        {
                            "stage": stage.name,
                            "stage_index": si,
                            "step": step,
                            "epoch": epoch,
                            "lr": scheduler.get_last_lr()[0],
                            "world_size": self.acc.num_processes,
                            "seq_per_s": seen_seq / dt,
                            "tok_per_s": seen_tok / dt,
                            **rec,
                        }
                    )
                    running = []
                if stage.eval_every and step % stage.eval_every == 0 and step < total:
                    self._evaluate(si, stage, val, module)
                if stage.save_every and step % stage.save_every == 0 and step < total:
                    self._save(si, stage, optimizer, scheduler, done=False)
                if step >= total:
                    break
            else:
                epoch, start = epoch + 1, 0
                continue
            break
        bar.close()
        metrics = self._evaluate(si, stage, val, module)
        if stage.keep_best:
            metrics = self._restore_best(si, stage, metrics)
        self.state.update(stage_done=True)
        self._save(si, stage, optimizer, scheduler, done=True)
        self.resume_from = None
        self.acc.free_memory()
        del train, val
        release_memory()
        return metrics

    @torch.no_grad()
    def _evaluate(self, si: int, stage: StageConfig, val: StageData, module: nn.Module) -> dict:
        """Validation losses and per-key regression metrics (de-normalised), logged and added to the history."""
        if not val.items:
            return {}
        inner = self.acc.unwrap_model(module)
        was_training = inner.training
        inner.eval()
        kind = stage.kind
        keys_all = self.module.model.config.numeric_head.keys
        preds, stds, targets, keys, losses = [], [], [], [], {}
        sampler = TokenBudgetSampler(val.lengths, stage.max_tokens, stage.max_batch_size, shuffle=False)
        for idx in sampler.batches(0):
            batch = {k: v.to(self.acc.device) for k, v in val.collate(idx).items()}
            out = inner(kind, batch)
            for k in ("loss", "lm_loss", "num_loss"):
                if out.get(k) is not None:
                    losses.setdefault(k, []).append(float(out[k]))
            if out.get("num_mean") is None:
                continue
            for kid, m, lv, y in zip(
                batch["num_key_ids"].tolist(),
                out["num_mean"].tolist(),
                out["num_log_var"].tolist(),
                batch["num_targets"].tolist(),
                strict=True,
            ):
                key = keys_all[kid]
                mean, std = self.module.model.config.numeric_head.stats(key)
                preds.append(m * std + mean)
                stds.append(math.exp(0.5 * lv) * std)
                targets.append(y * std + mean)
                keys.append(key)
        per_key = metrics_by_key(keys, preds, targets, stds) if keys else {}
        result = {
            "stage": stage.name,
            "step": self.state["step"],
            **{f"val_{k}": float(np.mean(v)) for k, v in losses.items()},
            "per_key": per_key,
        }
        self.state["history"].append(result)
        self._log({"eval": result, "stage_index": si})
        if stage.keep_best:
            self._track_best(si, result, inner)
        if self.main:
            summary = ", ".join(
                f"{k}: R²={m.get('r2', float('nan')):.3f} r={m.get('pearson', float('nan')):.3f}"
                for k, m in per_key.items()
            )
            tqdm.write(f"[eval {stage.name} step {self.state['step']}] {summary}")
        if was_training:
            self._train_mode(stage, module)
        return result

    # ---- keep_best --------------------------------------------------------------------------------------------
    def _best_path(self, si: int) -> Path:
        return self.out / "best" / f"stage-{si}.safetensors"

    def _track_best(self, si: int, result: dict, inner: nn.Module) -> None:
        """Snapshot the trainable weights when the validation loss is the lowest seen in this stage."""
        loss = result.get("val_loss")
        best = self.state.setdefault("best", {}).get(str(si))
        if loss is None or (best is not None and loss >= best["val_loss"]):
            return
        self.state["best"][str(si)] = {"val_loss": loss, "step": result["step"], "result": result}
        if self.main:
            ck.save_tensors_atomic(
                {n: p for n, p in inner.named_parameters() if p.requires_grad}, self._best_path(si)
            )
        self.acc.wait_for_everyone()

    def _restore_best(self, si: int, stage: StageConfig, final: dict) -> dict:
        """End the stage with the best snapshot's weights (when it beats the final ones)."""
        best = self.state.get("best", {}).get(str(si))
        if best is None or best["step"] == final["step"] or not self._best_path(si).is_file():
            return final
        inner = self.acc.unwrap_model(self.module)
        missing = inner.load_state_dict(ck.load_file(str(self._best_path(si))), strict=False)
        if missing.unexpected_keys:
            raise RuntimeError(f"best snapshot has unknown tensors: {missing.unexpected_keys[:3]}")
        self._log(
            {
                "restored_best": {
                    "stage": stage.name,
                    "step": best["step"],
                    "val_loss": best["val_loss"],
                    "final_val_loss": final.get("val_loss"),
                },
                "stage_index": si,
            }
        )
        if self.main:
            tqdm.write(
                f"[{stage.name}] kept the weights of step {best['step']} (val loss {best['val_loss']:.4f} "
                f"< {final.get('val_loss', float('nan')):.4f} at the end)"
            )
        return {**best["result"], "restored_from_step": best["step"]}

    def _save(self, si: int, stage: StageConfig, optimizer, scheduler, done: bool) -> None:
        """Write a resumable checkpoint (model, probe, optimizer, scheduler, RNG, trainer state), atomically."""
        self.acc.wait_for_everyone()
        if self.main:
            inner = self.acc.unwrap_model(self.module)
            opt = getattr(optimizer, "optimizer", optimizer)

            def write(tmp: Path) -> None:
                inner.model.save_pretrained(tmp / "model")
                ck.save_model_part(inner.probe, tmp / "probe.safetensors")
                tensors, meta = ck.optimizer_to_safetensors(opt)
                ck.save_file(tensors, str(tmp / "optimizer.safetensors"))
                ck.save_json(tmp / "optimizer.json", meta)
                ck.save_json(tmp / "scheduler.json", scheduler.state_dict())
                rt, rm = ck.rng_state()
                ck.save_file(rt, str(tmp / "rng.safetensors"))
                ck.save_json(tmp / "rng.json", rm)
                ck.save_json(tmp / ck.STATE_FILE, {**self.state, "config": self.cfg.to_dict()})

            ck.write_checkpoint(
                self.ckpt_root, f"step-{si * 1_000_000 + self.state['step']:09d}", write, self.cfg.keep_last
            )
        self.acc.wait_for_everyone()


def _init_from(model: DnaLanguageModel, path: str) -> None:
    """Copy encoder and projector weights from a saved model directory (shapes must match), and its numeric head
    when the head reads the DNA (``readout: dna``/``dna_attention``: the regress stage trained it with them)."""
    from peft import PeftModel

    src = DnaLanguageModel.from_pretrained(path)
    if src.config.encoder.type != model.config.encoder.type:
        raise ConfigError(
            f"init_from={path}: its encoder is {src.config.encoder.type!r}, this config's "
            f"{model.config.encoder.type!r}"
        )
    if isinstance(
        getattr(src.encoder, "esm", None), PeftModel
    ):  # LoRA-trained: fold the adapters into plain weights
        src.encoder.esm = src.encoder.esm.merge_and_unload()
    if isinstance(getattr(model.encoder, "esm", None), PeftModel):
        raise ConfigError(
            "init_from needs this config's encoder built plain (trainable: full or frozen); "
            "stages may still switch it to lora"
        )
    parts = ["encoder", "projector"] + (["numeric_head"] if model.numeric_head.reads_dna else [])
    if "numeric_head" in parts and src.config.numeric_head.keys != model.config.numeric_head.keys:
        raise ConfigError(f"init_from={path}: its numeric head has other keys than this config's")
    for part in parts:
        theirs = getattr(src, part).state_dict()
        mine = getattr(model, part)
        try:
            mine.load_state_dict(theirs)
        except RuntimeError as e:
            raise ConfigError(f"init_from={path}: its {part} does not match this config's ({e})") from e
    del src
    release_memory()


def _flatten(d: dict, prefix: str = "") -> dict:
    """Nested dict -> one level with ``a/b/c`` keys (for TensorBoard scalars)."""
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, name + "/"))
        else:
            out[name] = v
    return out

#!/usr/bin/env bash
# One real LoRA training step of AgroNT-1B + SmolLM2-135M (random weights, real architectures) on a CUDA GPU, in
# bf16 and with 4-bit base weights; peak memory and step time into bench/results/gpu_check_*.json.
#   bash bench/gpu_check.sh            (needs a CUDA GPU and bitsandbytes: pip install bitsandbytes)
set -euo pipefail
cd "$(dirname "$0")"
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU: this check is for a GPU machine')"
for batch in 4 16; do
  python finetune_step.py --encoder agront-1b --decoder smollm2-135m --batch "$batch" --steps 3 \
    --gradient-checkpointing --out "results/gpu_check_agront-1b_smollm2-135m_b${batch}_bf16.json"
  python finetune_step.py --encoder agront-1b --decoder smollm2-135m --batch "$batch" --steps 3 \
    --gradient-checkpointing --bits 4 --out "results/gpu_check_agront-1b_smollm2-135m_b${batch}_4bit.json"
done

#!/usr/bin/env bash
# Regenerates the two transcripts of docs/usage.md ("Demo transcript", "A conversation") with the shipped model:
#   bash bench/transcripts.sh > bench/results/transcripts.txt
# Sequences are printed shortened (first 10 ... last 8 bases), as in the docs. Needs ../shared/data for the
# terminator (Gorjifard et al. 2024, official test row Arabidopsis_ACGT_random_108).
set -euo pipefail
cd "$(dirname "$0")/.."
A=.venv/bin/agrochat
P1=$(sed -n 2p tests/fixtures/demo_promoter.fa)
P2=$(awk -F'\t' '$1=="SORBI_3008G111600"{print $4}' tests/fixtures/promoters_leaf_64.tsv)
T1=$(zcat ../shared/data/terminators/gorjifard2024_cnn_split.tsv.gz | awk -F'\t' '$1=="Arabidopsis_ACGT_random_108"{print $6}')
short() { sed -E 's/([ACGT]{10})[ACGT]{20,}([ACGT]{8})/\1...\2/g'; }
run() { echo "\$ $1" | short; eval "$1" 2>&1 | short; echo; }
echo "### demo"
run "$A chat --fasta tests/fixtures/demo_promoter.fa --question 'How strongly is this promoter expressed in tobacco leaf?'"
run "$A predict --fasta tests/fixtures/demo_promoter.fa --tissue protoplast --no-explanations"
run "printf '/seq $T1\nHow strong is this terminator in maize protoplasts?\n/explain\n/quit\n' | $A chat"
echo "### conversation"
run "printf 'How strongly is this promoter expressed in tobacco leaves? $P1\nwhy?\nWhat if I mutate the TATA box?\nand G-30A?\nMake it stronger with at most 5 substitutions\nCompare it with this other promoter: $P2\nIn which maize tissues is this gene expressed most?\nHow strong would it be in rice?\n/quit\n' | $A chat"

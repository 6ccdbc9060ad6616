"""Genome-scale input: the model's windows cut from a genome by its annotation, and variants applied to them.

:mod:`~agrochat.genome.windows` defines the windows (core promoter around the TSS, terminator around the 3' end)
and applies variants with re-cutting; :mod:`~agrochat.genome.reader` reads the genome (indexed FASTA, plain or
bgzipped), the annotation (GFF3 or GTF) and variant calls (VCF/BCF) with maintained readers (pysam, gffutils).
Computes no predictions: :mod:`agrochat.chat.scan` scores the windows.
"""

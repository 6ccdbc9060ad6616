"""Find the DNA sequences a user pasted into a chat message, in the shapes people paste them.

:func:`read_pasted` recognises, anywhere in a message and mixed with prose:

* plain runs of bases (A C G T/U N, any case, IUPAC ambiguity letters allowed sparingly);
* the same split into blocks by spaces ("ACGTACGTAC GTACGTACGT ...") or wrapped over lines at a fixed width
  (a multiple of 10 between 40 and 120; all lines but the last of that width);
* GenBank ``ORIGIN`` sections (a position number at the start of each line, optional ``ORIGIN`` line and
  ``//`` end) and EMBL sequence lines (the position number at the end of each line, optional ``SQ`` line);
* FASTA records (a ``>id description`` line at the start of a line, then sequence lines); the id is kept.

Blocks are joined only when each is at least 5 bases long (the last one of a formatted paste may be shorter), or
when GenBank/EMBL numbers on the lines agree with the base counts, so words of prose are not glued together.
A paste that is clearly meant as DNA but cannot be read raises :class:`PasteError` with a one-line message;
prose never raises. Pure functions: no model, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agrochat.bridge.tokenizer import IUPAC_AMBIGUOUS, DnaSequenceError, normalize_dna

PLACEHOLDER = "<dna>"
MIN_BLOCK = 5  # shortest block of a split sequence that is joined to its neighbours
MAX_BLOCK = 20  # longest block of a sequence split by spaces (longer runs are sequences of their own)
ERROR_MIN_LENGTH = 30  # a near-DNA run at least this long with a bad character raises
_BASES = frozenset("ACGTUN")
_IUPAC = _BASES | frozenset(IUPAC_AMBIGUOUS)
_WRAP_WIDTHS = range(40, 121, 10)

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_SEP_SPACE = re.compile(r"[ \t]+")
_SEP_NEWLINE = re.compile(r"[ \t]*\n[ \t]*")
_SEP_GENBANK = re.compile(r"[ \t]*\n[ \t]*(\d+)[ \t]+")
_SEP_EMBL = re.compile(r"[ \t]+(\d+)[ \t]*\n[ \t]*")
_LEADING_NUMBER = re.compile(r"([ \t]*)(\d+)[ \t]+")
_TRAILING_NUMBER = re.compile(r"[ \t]+(\d+)[ \t]*(?=\n|\Z)")
_LINE_END = re.compile(r"[.,;:!?)\]}'\"`]*[ \t]*(?:\d+[ \t]*)?(?=\n|\Z)")
_ORIGIN_BEFORE = re.compile(r"(?m)^[ \t]*(?:ORIGIN\b|SQ[ \t]+Sequence\b)[^\n]*\n[ \t]*\Z")
_END_AFTER = re.compile(r"\A[ \t]*\n[ \t]*//[ \t]*(?=\n|\Z)")

_HEADER = re.compile(r"[ \t]*>(\w\S*)(?:[ \t](.*))?")
_ID_LIKE = re.compile(r"[\w.:|/\-+=#]*[A-Za-z][\w.:|/\-+=#]*")
_BODY_CHARS = re.compile(r"[A-Za-z0-9\s*.\-]+")
_BODY_NUMBERS = re.compile(r"^\d+\s+|\s+\d+$")


class PasteError(DnaSequenceError):
    """A paste meant as DNA cannot be read: a non-base character, an empty FASTA record, a protein."""


@dataclass(frozen=True)
class Pasted:
    """A message with its pasted sequences taken out.

    ``text`` is the message with each sequence (with its FASTA header, GenBank/EMBL numbers, ``ORIGIN`` and
    ``//`` lines) replaced by ``<dna>``; ``sequences`` are normalised by :func:`normalize_dna` (upper case,
    ``U`` -> ``T``, ambiguity letters -> ``N``) in order of appearance; ``ids`` the FASTA id of each, or None.
    """

    text: str
    sequences: tuple[str, ...]
    ids: tuple[str | None, ...]


@dataclass(frozen=True)
class _Tok:
    start: int
    end: int
    text: str  # upper case


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    sequence: str
    id: str | None
    description: str = ""  # a FASTA header's words after the id: kept in the text, the user wrote them


def read_pasted(message: str, min_length: int = 20) -> Pasted:
    """The sequences pasted into ``message`` (see the module docstring for the shapes recognised).

    ``min_length`` is the fewest bases an unlabelled sequence needs (a FASTA record may be shorter). Line endings
    become ``\\n`` in ``text``. Raises :class:`PasteError` for a paste clearly meant as DNA that is invalid.
    """
    if min_length < 1:
        raise ValueError(f"min_length must be at least 1, got {min_length}")
    text = message.replace("\r\n", "\n").replace("\r", "\n")
    records = _fasta_records(text)
    found = list(records)
    for lo, hi in zip([0] + [r.end for r in records], [r.start for r in records] + [len(text)], strict=True):
        found += _scan(text, lo, hi, min_length)  # the text between the FASTA records
    found.sort(key=lambda f: f.start)
    parts, pos = [], 0
    for f in found:
        parts += [text[pos : f.start], f"{f.description} " if f.description else "", PLACEHOLDER]
        pos = f.end
    parts.append(text[pos:])
    return Pasted("".join(parts), tuple(f.sequence for f in found), tuple(f.id for f in found))


# ---------------------------------------------------------------------------------------------------- FASTA


def _fasta_records(text: str) -> list[_Found]:
    """FASTA records: a ``>id`` line at a line start, optional blank lines, then sequence lines."""
    lines, pos = [], 0
    for line in text.split("\n"):
        lines.append((pos, pos + len(line)))
        pos += len(line) + 1
    out: list[_Found] = []
    k = 0
    while k < len(lines):
        head = _HEADER.fullmatch(text[slice(*lines[k])])
        if not head:
            k += 1
            continue
        rid = head.group(1)
        id_like = _ID_LIKE.fullmatch(rid) is not None and re.search(r"[\d_|]", rid) is not None
        nxt = k + 1
        while nxt < len(lines) and not text[slice(*lines[nxt])].strip():
            nxt += 1
        body = nxt
        while body < len(lines) and _is_body_line(text[slice(*lines[body])], 10 if id_like else 20):
            body += 1
        if body > nxt:
            seq = "".join(_body_core(text[slice(*lines[i])]) for i in range(nxt, body))
            desc = (head.group(2) or "").strip()
            out.append(_Found(lines[k][0], lines[body - 1][1], _check_record(rid, seq), rid, desc))
            k = body
            continue
        following = text[slice(*lines[nxt])] if nxt < len(lines) else ""
        if id_like or (_ID_LIKE.fullmatch(rid) and (nxt == len(lines) or _HEADER.fullmatch(following))):
            raise PasteError(f"FASTA record {rid!r} has no sequence (no sequence line after its '>' line)")
        k += 1  # a '>' line of prose (a quote): left to the plain scan
    return out


def _body_core(line: str) -> str:
    """A sequence line without whitespace and without a GenBank/EMBL position number at either end."""
    return re.sub(r"\s+", "", _BODY_NUMBERS.sub("", line.strip()))


def _is_body_line(line: str, word_len: int) -> bool:
    """A line that continues a FASTA record: mostly bases, or one word of ``word_len`` or more characters (read,
    then rejected: a protein)."""
    s = line.strip()
    if not s or s.startswith(">") or not _BODY_CHARS.fullmatch(s):
        return False
    core = _BODY_NUMBERS.sub("", s)
    compact = re.sub(r"\s+", "", core)
    if not compact or compact.isdigit():
        return False
    if _n_bases(compact) >= 0.75 * len(compact):
        return True
    return not re.search(r"\s", core) and len(compact) >= word_len


def _check_record(rid: str, seq: str) -> str:
    """The normalised sequence of FASTA record ``rid``, or :class:`PasteError` saying what is wrong."""
    if _n_bases(seq) < 0.5 * len(seq):
        pct = round(100 * _n_bases(seq) / len(seq))
        raise PasteError(
            f"sequence {rid!r} is not DNA: only {pct}% of its characters are A, C, G, T/U or N "
            "(a protein sequence?)"
        )
    bad = _first_bad(seq)
    if bad is not None:
        raise PasteError(
            f"sequence {rid!r} has a character that is not a base at position {bad + 1}: {seq[bad]!r}"
        )
    return normalize_dna(seq)


# ---------------------------------------------------------------------------------------------------- plain text


def _n_bases(s: str) -> int:
    return sum(c in _BASES for c in s.upper())


def _first_bad(s: str) -> int | None:
    return next((i for i, c in enumerate(s.upper()) if c not in _IUPAC), None)


def _strict(s: str, long_len: int) -> bool:
    """Only IUPAC letters; at most 10 % ambiguity letters (half in a run of ``long_len`` or more)."""
    if _first_bad(s) is not None:
        return False
    amb = len(s) - _n_bases(s)
    return amb * 10 <= len(s) if len(s) < long_len else amb * 2 <= len(s)


def _interior(s: str) -> bool:
    """Only IUPAC letters, at least 70 % bases: a block that may sit between two blocks."""
    return len(s) >= MIN_BLOCK and _first_bad(s) is None and _n_bases(s) * 10 >= 7 * len(s)


def _is_block(s: str, long_len: int) -> bool:
    """Long enough to join, and valid or nearly so (>= 90 % bases: a typo inside is reported, not skipped)."""
    return len(s) >= MIN_BLOCK and (_strict(s, long_len) or _n_bases(s) * 10 >= 9 * len(s))


def _scan(text: str, lo: int, hi: int, min_length: int) -> list[_Found]:
    """Unlabelled sequences in ``text[lo:hi]`` (no FASTA there)."""
    seg = text[lo:hi]
    toks = [
        _Tok(m.start(), m.end(), m.group().upper()) for m in _TOKEN.finditer(seg) if not m.group().isdigit()
    ]
    long_len = max(20, min_length)
    out: list[_Found] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if not _is_block(t.text, long_len):
            if len(t.text) >= min_length and _strict(t.text, long_len):
                out.append(_Found(lo + t.start, lo + t.end, normalize_dna(t.text), None))
            i += 1
            continue
        j, n0, embl_off = _extend(seg, toks, i, long_len)
        out += [
            _Found(lo + s, lo + e, q, None) for s, e, q in _evaluate(seg, toks[i:j], n0, embl_off, min_length)
        ]
        i = j
    return out


def _sep(sep: str) -> tuple[str | None, int | None]:
    """What joins two blocks: ``space``, ``newline``, ``genbank``/``embl`` (with the line's number), or None."""
    for kind, rx in (
        ("space", _SEP_SPACE),
        ("newline", _SEP_NEWLINE),
        ("genbank", _SEP_GENBANK),
        ("embl", _SEP_EMBL),
    ):
        m = rx.fullmatch(sep)
        if m:
            return kind, int(m.group(1)) if m.groups() else None
    return None, None


def _line_prefix(seg: str, pos: int) -> str:
    return seg[seg.rfind("\n", 0, pos) + 1 : pos]


def _extend(seg: str, toks: list[_Tok], i: int, long_len: int) -> tuple[int, int | None, int | None]:
    """End (exclusive) of the chain of blocks starting at token ``i``; its first GenBank number; its EMBL offset."""
    lead = _LEADING_NUMBER.fullmatch(_line_prefix(seg, toks[i].start))
    n0 = int(lead.group(2)) if lead else None
    embl_off: int | None = None
    width: int | None = None
    bases = line_len = len(toks[i].text)
    line_start, wrapped = i, False  # first token of the current line; last line break a plain one
    numbered = False
    j = i + 1
    while j < len(toks):
        kind, num = _sep(seg[toks[j - 1].end : toks[j].start])
        nxt = toks[j].text
        tail = (
            len(nxt) < MIN_BLOCK
            and all(c in _BASES for c in nxt)
            and _LINE_END.match(seg, toks[j].end) is not None
        )
        if kind is None or not (tail or _is_block(nxt, long_len) or _interior(nxt)):
            break
        if kind == "genbank":
            ok = n0 is not None and num == n0 + bases
        elif kind == "embl":
            ok = num - bases >= 0 and embl_off in (None, num - bases)
            embl_off = num - bases if ok else embl_off
        elif kind == "newline":
            ok = line_len in _WRAP_WIDTHS if width is None else line_len == width
            width = line_len if ok else width
        else:  # blocks split by spaces: all of one width (at most MAX_BLOCK), only the last one may be shorter,
            # so two sequences pasted side by side stay two
            w = len(toks[line_start].text)
            ok = w <= MAX_BLOCK and len(toks[j - 1].text) == w and len(nxt) <= w
        if not ok:
            break
        if kind != "space":
            numbered = numbered or kind in ("genbank", "embl")
            wrapped = kind == "newline"
            line_start, line_len = j, 0
        if tail:
            prev = [len(t.text) for t in toks[i:j]]
            formatted = numbered or kind != "space" or (len(prev) >= 2 and len(set(prev)) == 1)
            if formatted and len(nxt) < prev[-1]:
                j += 1
            break
        bases += len(nxt)
        line_len += len(nxt)
        j += 1
    if wrapped and width is not None and line_len > width:  # the last line is longer: not a wrapped line
        j = line_start
    while not _is_block(toks[j - 1].text, long_len) and not _tail_of(toks, i, j):
        j -= 1  # a block with many ambiguity letters joins only between two blocks
    return j, n0, embl_off


def _tail_of(toks: list[_Tok], i: int, j: int) -> bool:
    """Whether the last token of the chain ``toks[i:j]`` is a short last block (only such a block is that short)."""
    return j - 1 > i and len(toks[j - 1].text) < MIN_BLOCK


def _evaluate(
    seg: str, chain: list[_Tok], n0: int | None, embl_off: int | None, min_length: int
) -> list[tuple[int, int, str]]:
    """``(start, end, sequence)`` of the valid sequences in a chain of blocks; :class:`PasteError` for a bad one."""
    long_len = max(20, min_length)
    raw = "".join(t.text for t in chain)
    if all(
        _strict(t.text, long_len) or (0 < k < len(chain) - 1 and _interior(t.text))
        for k, t in enumerate(chain)
    ):
        if len(raw) < min_length:
            return []
        return [(*_span(seg, chain, n0, embl_off, len(raw)), normalize_dna(raw))]
    bad = _first_bad(raw)
    if bad is not None and len(raw) >= ERROR_MIN_LENGTH and _n_bases(raw) * 10 >= 9 * len(raw):
        raise PasteError(
            f"the pasted DNA sequence starting {raw[:10]!r} has a character that is not a base "
            f"at position {bad + 1}: {raw[bad]!r}"
        )
    out, piece = [], []  # keep the valid stretches between the blocks that are not DNA
    for t in [*chain, None]:
        if t is not None and _strict(t.text, long_len):
            piece.append(t)
            continue
        joined = "".join(p.text for p in piece)
        if piece and len(piece[0].text) >= MIN_BLOCK and len(joined) >= min_length:
            out.append((piece[0].start, piece[-1].end, normalize_dna(joined)))
        piece = []
    return out


def _origin_line(seg: str, pos: int) -> int | None:
    """Start of an ``ORIGIN`` or EMBL ``SQ`` line right before ``pos`` (only blanks between), if there is one."""
    newline = seg.rfind("\n", 0, pos)
    if newline < 0:
        return None
    line_start = seg.rfind("\n", 0, newline) + 1
    m = _ORIGIN_BEFORE.search(seg, line_start, pos)
    return m.start() if m else None


def _span(seg: str, chain: list[_Tok], n0: int | None, embl_off: int | None, n: int) -> tuple[int, int]:
    """Where the chain sits in ``seg``, with its position numbers, ``ORIGIN``/``SQ`` line and ``//`` line."""
    start, end = chain[0].start, chain[-1].end
    multi_line = "\n" in seg[start:end]
    lead = _LEADING_NUMBER.fullmatch(_line_prefix(seg, start))
    if lead and n0 is not None:
        line_start = start - len(lead.group(0))
        genbank = multi_line and _SEP_GENBANK.search(seg, start, end) is not None
        if genbank or (n0 == 1 and (lead.group(1) or _origin_line(seg, line_start) is not None)):
            start = line_start  # the number and the indentation before it
    trail = _TRAILING_NUMBER.match(seg, end)
    if trail and int(trail.group(1)) - n == (embl_off or 0):
        end = trail.end()
        if not _line_prefix(seg, start).strip():
            start -= len(_line_prefix(seg, start))  # EMBL indentation
    origin = _origin_line(seg, start)
    start = start if origin is None else origin
    close = _END_AFTER.match(seg[end:])
    if close:
        end += close.end()
    return start, end


def plain_pastes(messages: list[dict]) -> list[dict]:
    """``messages`` with every sequence pasted into a user turn (FASTA, GenBank/EMBL, blocks, lowercase, RNA)
    rewritten as one plain upper-case run of bases, where it was; other turns unchanged. Raises
    :class:`PasteError` for a paste meant as DNA that cannot be read."""
    out = []
    for m in messages:
        if m.get("role") != "user" or not m.get("content"):
            out.append(m)
            continue
        keep = "\x00"  # explicit <dna> placeholders of the message stay placeholders
        pasted = read_pasted(str(m["content"]).replace(PLACEHOLDER, keep))
        parts = pasted.text.split(PLACEHOLDER)
        text = parts[0] + "".join(
            f" {seq} " + rest for seq, rest in zip(pasted.sequences, parts[1:], strict=True)
        )
        out.append({**m, "content": text.replace(keep, PLACEHOLDER)})
    return out

"""Check the documentation's links and file paths: ``python docs/check_links.py`` (exit 1 on any problem).

Checked files: README.md, CHANGELOG.md, SECURITY.md, docs/*.md, every *.md under src/ (the model card), the
comment lines of configs/**/*.yaml and the module docstrings of bench/*.py.

- Markdown links and images ``[text](target)``: a relative target must exist (resolved from the file's folder);
  a ``#fragment`` must name a heading of the target Markdown file (GitHub's heading slugs).
- Paths in inline code (Markdown) and in config comments / bench docstrings: a token starting with ``src/``,
  ``bench/``, ``docs/``, ``configs/`` or ``tests/`` must exist in the repository; one starting with a package
  folder (``bridge/``, ``chat/``, ``data_gen/``, ``domain/``, ``train/``, ``app/``) must exist under
  ``src/agrochat/`` (so a path of the old top-level layout that no longer exists fails). ``{a,b}`` braces and
  ``*`` globs are expanded. Fenced code blocks are skipped, and so are paths written after an output option
  (``--out``, ``-o``, ``--output-dir``, ``--report``): files a command would create.

"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIXES = ("src/", "bench/", "docs/", "configs/", "tests/")
PACKAGE = "src/agrochat/"  # where a package-relative path (chat/assistant.py) lives
PACKAGE_PREFIXES = ("bridge/", "chat/", "data_gen/", "domain/", "train/", "app/")
OUTPUT_OPTIONS = ("--out", "-o", "--output-dir", "--report")

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
PATH = re.compile(
    r"(?<![\w./-])((?:src|bench|docs|configs|tests|bridge|chat|data_gen|domain|train|app)/[\w./*{},+-]*)"
)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in strip_fences(path.read_text(encoding="utf-8")):
        m = HEADING.match(line)
        if not m:
            continue
        s = slug(m.group(2))
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def strip_fences(text: str) -> list[str]:
    """The lines of ``text`` outside fenced code blocks (fenced lines become empty, so numbers stay)."""
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(line)
    return out


def expand(token: str) -> list[str]:
    """``a/{b,c}.x`` -> ``a/b.x``, ``a/c.x`` (nested braces are not used in the docs)."""
    m = re.search(r"\{([^{}]*)\}", token)
    if not m:
        return [token]
    return [t for part in m.group(1).split(",") for t in expand(token[: m.start()] + part + token[m.end() :])]


def repo_path(token: str) -> str:
    """The repository path of ``token``: package-relative paths are read under ``src/agrochat/``."""
    return PACKAGE + token if token.startswith(PACKAGE_PREFIXES) else token


def path_exists(token: str) -> bool:
    token = repo_path(token.rstrip(".,;:)"))
    for p in expand(token):
        if "*" in p:
            if not list(ROOT.glob(p)):
                return False
        elif not (ROOT / p).exists():
            return False
    return True


def path_tokens(text: str) -> list[str]:
    """Repository paths in ``text``, without those written after an output option."""
    out = []
    for m in PATH.finditer(text):
        before = text[: m.start()].split()
        if before and before[-1] in OUTPUT_OPTIONS:
            continue
        out.append(m.group(1).rstrip(".,;:)"))
    bare = {p.rstrip("/") for p in PREFIXES + PACKAGE_PREFIXES}
    return [t for t in out if t.rstrip("/") not in bare]


def check_path(token: str, where: str, problems: list[str]) -> None:
    if not path_exists(token):
        problems.append(f"{where}: no such path: {token}")


def check_markdown(path: Path, problems: list[str]) -> None:
    rel = path.relative_to(ROOT)
    for n, line in enumerate(strip_fences(path.read_text(encoding="utf-8")), 1):
        where = f"{rel}:{n}"
        for m in LINK.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, frag = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if not dest.exists():
                problems.append(f"{where}: broken link: {target}")
                continue
            if frag and dest.suffix == ".md" and frag not in anchors(dest):
                problems.append(f"{where}: no heading #{frag} in {dest.relative_to(ROOT)}")
        for m in INLINE_CODE.finditer(LINK.sub("", line)):
            for token in path_tokens(m.group(2)):
                check_path(token, where, problems)


def check_text(path: Path, text: str, first_line: int, problems: list[str]) -> None:
    rel = path.relative_to(ROOT)
    for n, line in enumerate(text.splitlines(), first_line):
        for token in path_tokens(line):
            if token.startswith("bench/results/"):  # results a command writes
                continue
            check_path(token, f"{rel}:{n}", problems)


def main() -> int:
    problems: list[str] = []
    md = [ROOT / n for n in ("README.md", "CHANGELOG.md", "SECURITY.md") if (ROOT / n).exists()]
    md += sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "src").rglob("*.md"))
    for path in md:
        check_markdown(path, problems)
    for path in sorted((ROOT / "configs").rglob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        comments = "\n".join(line if line.lstrip().startswith("#") else "" for line in lines)
        check_text(path, comments, 1, problems)
    for path in sorted((ROOT / "bench").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
        if doc is not None and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
            check_text(path, doc.value.value, doc.lineno, problems)
    for line in problems:
        print(f"BROKEN   {line}")
    print(
        f"checked {len(md)} Markdown files, configs/ comments and bench/ docstrings: {len(problems)} broken"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Every requirement ID cited in the repository (`# REQ W-12`, `(M-05)`) is defined in
docs/requirements.md, and every ID defined there is well formed and defined once."""
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = Path("docs/requirements.md")
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()  # its examples are not citations

# An ID is a section letter, a hyphen and two digits, as a token of its own: not preceded or
# followed by a word character or a hyphen, so the "A-25" inside "SHA-256", a hyphenated
# identifier or a base64url string is not a citation.
CITATION = re.compile(r"(?<![\w-])[NCWAMRLS]-\d{2}(?![\w-])")
# A definition is a table row whose first cell is the ID: `| W-12 | what | source |`.
ROW = re.compile(r"^\|\s*([^|]*?)\s*\|(.*)\|\s*$")
SECTION = re.compile(r"^## ([A-Z]): ")
WELL_FORMED = re.compile(r"[NCWAMRLS]-\d{2}")

SUFFIXES = {".py", ".js", ".mjs", ".cjs", ".ts", ".html", ".txt", ".md", ".rst", ".toml", ".cfg",
            ".ini", ".yml", ".yaml", ".sh", ".lua", ".css", ".po", ".pot", ".mako", ".sql"}
NAMES = {"Makefile", "Dockerfile", "README"}
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", "instance",
             "build"}
SKIP_PREFIXES = ("widget/dist/",)


def repo_files(root: Path) -> list[str]:
    """Paths (relative, with /) of the files the repository holds: tracked and new files that
    git does not ignore; without git (an unpacked sdist), the tree minus the usual clutter."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, check=True).stdout
        return sorted({p for p in out.decode("utf-8", "replace").split("\0") if p})
    except (OSError, subprocess.CalledProcessError):
        found = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
            rel = Path(folder).relative_to(root)
            found += [(rel / name).as_posix() for name in files]
        return sorted(found)


def scanned(path: str) -> bool:
    p = Path(path)
    if path in (DOC.as_posix(), SELF) or path.startswith(SKIP_PREFIXES):
        return False
    if SKIP_DIRS.intersection(p.parts[:-1]):
        return False
    return p.suffix in SUFFIXES or p.name in NAMES or path == ".ci/run"


def citations(root: Path) -> dict[str, list[str]]:
    """{ID: ["path:line", ...]} for every ID cited in a scanned file under root."""
    found: dict[str, list[str]] = {}
    for path in repo_files(root):
        if not scanned(path) or not (root / path).is_file():
            continue
        text = (root / path).read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for match in CITATION.finditer(line):
                found.setdefault(match.group(), []).append(f"{path}:{number}")
    return found


def definitions(root: Path) -> list[tuple[int, str, str | None, list[str]]]:
    """(line, first cell, section letter, other cells) of every table row of the document
    whose first cell looks like an ID (letters, hyphen, digits), header rows aside."""
    rows = []
    section = None
    lines = (root / DOC).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if heading := SECTION.match(line):
            section = heading.group(1)
        elif line.startswith("## "):
            section = None
        elif (row := ROW.match(line)) and re.fullmatch(r"\**[A-Za-z]+-\d+\**", row.group(1)):
            rows.append((number, row.group(1), section,
                         [cell.strip() for cell in row.group(2).split("|")]))
    return rows


def defined(root: Path) -> set[str]:
    return {cell for _, cell, _, _ in definitions(root)}


def test_every_cited_requirement_is_defined():
    known = defined(ROOT)
    undefined = {rid: where for rid, where in citations(ROOT).items() if rid not in known}
    assert not undefined, (
        f"cited but not defined in {DOC} (add a row, in our words, with its source):\n"
        + "\n".join(f"  {rid}: {', '.join(where)}" for rid, where in sorted(undefined.items())))


def test_every_definition_is_well_formed_and_unique():
    rows = definitions(ROOT)
    assert len(rows) >= 70, f"{DOC} defines only {len(rows)} IDs"
    problems, seen = [], {}
    for number, cell, section, rest in rows:
        where = f"{DOC}:{number}: {cell}"
        if not WELL_FORMED.fullmatch(cell):
            problems.append(f"{where} is not a letter of NCWAMRLS, a hyphen and two digits")
        elif cell[0] != section:
            problems.append(f"{where} stands under section {section}, not {cell[0]}")
        if cell in seen:
            problems.append(f"{where} is defined again (first on line {seen[cell]})")
        seen.setdefault(cell, number)
        if len(rest) != 2 or not all(rest):
            problems.append(f"{where} needs two non-empty cells: what it asks, and its source")
    assert not problems, "\n".join(problems)


def test_the_citation_pattern_finds_citations_and_nothing_else():
    cited = ("# REQ W-12", "(REQ W-07, W-12)", "REQ S-05: headers", "normalised (M-05)",
             "(L-04's /24 and /48)", "C-02: ads", "W-01..W-03", "`A-03`")
    assert [CITATION.findall(text) for text in cited] == [
        ["W-12"], ["W-07", "W-12"], ["S-05"], ["M-05"], ["L-04"], ["C-02"], ["W-01", "W-03"],
        ["A-03"]]
    not_cited = ("SHA-256", "sha-256", "UTF-16", "X-S-05", "S-05-x", "W-123", "aW-12", "W-1",
                 "W_12", "_W-12", "2025-01-01", "b3-N-01a")
    assert [text for text in not_cited if CITATION.search(text)] == []


def test_a_citation_of_an_undefined_id_is_reported_with_its_place(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / DOC).write_text("## W: banner\n\n| ID | what | source |\n| --- | --- | --- |\n"
                                "| W-12 | small | CSP Level 3 |\n", encoding="utf-8")
    (tmp_path / "mod.py").write_text("x = 1  # REQ W-12\n\ny = 2  # REQ W-99\n",
                                     encoding="utf-8")
    (tmp_path / "notes.bin").write_text("W-98\n", encoding="utf-8")  # not a scanned type
    assert defined(tmp_path) == {"W-12"}
    assert citations(tmp_path) == {"W-12": ["mod.py:1"], "W-99": ["mod.py:3"]}

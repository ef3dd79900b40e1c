"""CSV in and out, one way for every path: the files newsletter tools and spreadsheets export,
read as they come (M-09), and every CSV we write safe to open in a spreadsheet.

Reading: the encoding from a byte order mark, else strict UTF-8, else charset-normalizer
(Windows-1252 from Excel's plain "CSV", UTF-16 without a mark); the delimiter sniffed among
`,` `;` and tab; CRLF or LF; the address column found by its usual names in any case and
spacing, or named by the caller. Writing: every cell that a spreadsheet would take for a formula
(OWASP's CSV injection rule: it starts with `=`, `+`, `-`, `@`, tab or CR) gets a `'` in front,
and so does a cell that already starts with `'`, so that dropping one leading `'` gives every
value back exactly.
"""
import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from charset_normalizer import from_bytes

from .errors import Invalid, TooLarge
from .text import MESSAGE, bad_text

ADDRESS_NAMES = ("email", "e-mail", "email address", "e-mail address", "emailaddress",
                 "e-post", "epost", "e-postadresse", "epostadresse", "e-post adresse", "mail",
                 "mail address", "subscriber email")
DELIMITERS = ",;\t"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
RISKY = ("=", "+", "-", "@", "\t", "\r", "'")  # OWASP's first characters, and our own mark
# Among encodings charset-normalizer finds equally likely, the ones Norwegian Excel and
# Numbers write: Windows-1252 ("CSV (semikolondelt)") and its ISO relatives.
PREFERRED = ("cp1252", "iso8859_15", "latin_1", "mac_roman")
SAMPLE = 64 * 1024  # bytes the delimiter is sniffed from
MARKS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
         (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
NOT_CSV = {b"PK\x03\x04": ("workbook", "an Excel workbook or a Numbers document (a zip)"),
           b"\xd0\xcf\x11\xe0": ("old_workbook", "an old Excel workbook (.xls)"),
           b"%PDF": ("pdf", "a PDF")}


class TooManyRows(TooLarge):
    """More rows in a file than the caller allows."""


class Unreadable(Invalid):
    """A file we cannot read as it is: `problem` names the kind (for a page to say it in the
    reader's language), `facts` the particulars (headers, delimiter, encoding, line)."""

    def __init__(self, problem: str, detail: str, field: str = "file", **facts):
        super().__init__(detail, {field: [detail]})
        self.problem, self.facts = problem, facts


def key(name: str) -> str:
    """A column name as matched: case-folded, without spaces or underscores."""
    return "".join(name.replace("_", " ").split()).casefold()


ADDRESS_KEYS = tuple(key(name) for name in ADDRESS_NAMES)


@dataclass
class Table:
    """A CSV file as read: its header and rows (lists of cells, each as long as the header), the
    address column's index, and how it was written (for the answer in the same form)."""

    header: list[str]
    rows: list[list[str]]
    address: int
    delimiter: str = ","
    encoding: str = "utf-8"
    marked: bool = False  # a byte order mark, or an encoding Excel opens right only with one

    def addresses(self) -> list[str]:
        """The address cell of every row, in order."""
        return [row[self.address] for row in self.rows]

    def column(self, name: str) -> list[str] | None:
        """Every row's cell of a column found by key(name), or None without that column."""
        keys = [key(h) for h in self.header]
        if key(name) not in keys:
            return None
        index = keys.index(key(name))
        return [row[index] for row in self.rows]


def decode(data: bytes) -> tuple[str, str, bool]:
    """(text, encoding, marked) of a file's bytes; Invalid naming what the file is instead."""
    if not data.strip():
        raise Unreadable("empty", "The file is empty.")
    for magic, (kind, what) in NOT_CSV.items():
        if data.startswith(magic):
            raise Unreadable("not_csv", f"This file is {what}, not CSV text: save or export "
                             "it as CSV.", what=kind)
    for mark, encoding in MARKS:
        if data.startswith(mark):
            try:
                return data.decode(encoding), encoding, True
            except UnicodeDecodeError as error:
                raise Unreadable("encoding", f"The file starts with a {encoding} byte order "
                                 f"mark but is not {encoding} text (byte {error.start}).",
                                 encoding=encoding) from None
    try:
        return data.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass
    found = from_bytes(data)
    best = found.best()
    if best is not None:  # a tie (short files often are one): what Excel writes here wins
        tied = {m.encoding: m for m in found
                if (m.chaos, m.coherence) == (best.chaos, best.coherence)}
        best = next((tied[e] for e in PREFERRED if e in tied), best)
    if best is None or best.encoding is None:
        raise Unreadable("encoding", "The file's encoding is not one we can recognise: it is "
                         "neither UTF-8 nor UTF-16 nor a single-byte encoding such as "
                         "Windows-1252. Save it as \"CSV UTF-8\".", encoding="")
    return str(best), best.encoding, True


def sniff(text: str) -> str:
    """The delimiter among `,` `;` and tab that splits the header into the most columns; among
    those, the one csv.Sniffer finds in the first lines, else the first (a comma for a file of
    one column). The header decides: cells full of another delimiter (names as "Hansen, Per"
    in a semicolon file) fool the Sniffer, never the header."""
    sample = text[:SAMPLE]
    if len(text) > SAMPLE:  # whole lines only
        sample = sample[:sample.rfind("\n") + 1] or sample
    widths = {d: len(next(csv.reader(io.StringIO(sample, newline=""), delimiter=d), []))
              for d in DELIMITERS}
    tied = [d for d in DELIMITERS if widths[d] == max(widths.values())]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    return sniffed if sniffed in tied else tied[0]


def read(data: bytes, most: int, column: str | None = None,
         reserved: Iterable[str] = ()) -> Table:
    """A CSV file read for a check or an import; Invalid (422) naming the problem: no address
    column (with the headers and the delimiter seen), a reserved column already there, a row
    longer than the header, an encoding not recognised; TooManyRows beyond `most` rows."""
    text, encoding, marked = decode(data)
    if bad_text(text):  # S-04: a cell with a NUL (a decoded file holds no lone surrogate)
        raise Invalid(MESSAGE)
    delimiter = sniff(text)
    try:
        lines = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        header = next(lines, None)
        if not header or not any(cell.strip() for cell in header):
            raise Unreadable("no_header", "The file has no header row: the first line must "
                             "name the columns.")
        index = _address_column(header, delimiter, encoding, column)
        taken = [h for h in header if key(h) in {key(r) for r in reserved}]
        if taken:
            raise Unreadable("reserved", f"The file already has a column named "
                             f"{_names(taken)}, which the answer adds: rename it and send the "
                             "file again.", columns=_names(taken))
        rows, width = [], len(header)
        for line in lines:
            if not any(line):
                continue  # a blank line (spreadsheets end files with them)
            if len(line) == width:
                rows.append(line)
            elif len(line) > width:
                if any(cell.strip() for cell in line[width:]):
                    raise Unreadable("too_long", f"Line {lines.line_num} has {len(line)} "
                                     f"cells but the header has {width} "
                                     f"({DELIMITER_NAMES[delimiter]}-separated).",
                                     line=lines.line_num, cells=len(line), width=width,
                                     delimiter=DELIMITER_NAMES[delimiter])
                rows.append(line[:width])
            else:
                rows.append(line + [""] * (width - len(line)))
            if len(rows) > most:
                raise TooManyRows(f"At most {most:,} rows per file; this one has more. Split "
                                  "it and send the parts one by one.")
    except csv.Error as error:
        raise Unreadable("bad_csv", f"Line {lines.line_num} could not be read as "
                         f"{DELIMITER_NAMES[delimiter]}-separated CSV: {error}.",
                         line=lines.line_num, delimiter=DELIMITER_NAMES[delimiter]) from None
    return Table(header, rows, index, delimiter, encoding, marked)


def _names(names: list[str]) -> str:
    return ", ".join(f"“{name}”" for name in names)


def _address_column(header: list[str], delimiter: str, encoding: str,
                    column: str | None) -> int:
    keys = [key(h) for h in header]
    headers = _names(header[:20]) + (" …" if len(header) > 20 else "")
    facts = {"headers": headers, "delimiter": DELIMITER_NAMES[delimiter], "encoding": encoding}
    seen = f"Headers seen ({facts['delimiter']}-separated, {encoding}): {headers}."
    if column:
        if key(column) in keys:
            return keys.index(key(column))
        raise Unreadable("no_such_column", f"The file has no column named “{column}”. {seen}",
                         "column", column=column, **facts)
    found = [i for i, k in enumerate(keys) if k in ADDRESS_KEYS]
    if len(found) == 1:
        return found[0]
    if found:
        several = _names([header[i] for i in found])
        raise Unreadable("several", f"The file has several address columns ({several}): name "
                         "the one to check (column).", "column", columns=several)
    raise Unreadable("no_address", "The file has no address column: its header should name one "
                     "as email, e-mail, email address, e-post, epost, e-postadresse or mail, or "
                     f"name it (column). {seen}", "column", **facts)


def safe(value) -> str:
    """A cell as a spreadsheet will show it, never run it: `'` before a risky first character."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(RISKY) else text


def unsafe(text: str) -> str:
    """A written cell's value back: its first `'` dropped (safe's inverse)."""
    return text[1:] if text.startswith("'") else text


class _Lines(list):
    """What csv.writer writes to: its lines, joined once per piece."""

    write = list.append


FIRST = frozenset(RISKY)


def writer(delimiter: str = ","):
    """(write_row, take): write_row(cells) adds a row made safe; take() the text written since
    the last take. CRLF line ends (RFC 4180)."""
    lines = _Lines()
    out = csv.writer(lines, delimiter=delimiter, lineterminator="\r\n")

    def write_row(cells: Iterable) -> None:
        # safe() inlined for text cells: a 100,000-row check writes 300,000 and more
        out.writerow([("'" + cell if cell[:1] in FIRST else cell) if isinstance(cell, str)
                      else safe(cell) for cell in cells])

    def take() -> str:
        text = "".join(lines)
        lines.clear()
        return text

    return write_row, take


def rows_text(header: Iterable[str], rows: Iterable[Iterable], delimiter: str = ",",
              every: int = 1000) -> Iterator[str]:
    """A CSV as text pieces (a header, then `every` rows a piece), every cell made safe."""
    write_row, take = writer(delimiter)
    write_row(header)
    count = 0
    for row in rows:
        write_row(row)
        count += 1
        if count % every == 0:
            yield take()
    rest = take()
    if rest or not count:
        yield rest


def dicts_text(columns: list[str], rows: Iterable[dict], every: int = 1) -> Iterator[str]:
    """rows_text for dicts, the cells in `columns` order."""
    return rows_text(columns, ([row.get(c) for c in columns] for row in rows), every=every)


def answer(table: Table, added: list[str], values: Iterable[Iterable]) -> bytes:
    """The file back as it came (its columns in order, its delimiter) with `added` columns,
    every cell made safe; UTF-8, with a byte order mark when the input had one or was not
    UTF-8 (so a spreadsheet reads it right)."""
    text = "".join(rows_text(table.header + added,
                             (row + list(more) for row, more in zip(table.rows, values,
                                                                    strict=True)),
                             delimiter=table.delimiter, every=10000))
    return (codecs.BOM_UTF8 if table.marked else b"") + text.encode("utf-8")

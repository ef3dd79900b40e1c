"""The one CSV reader fuzzed (issue 19): whatever bytes arrive, a table or a clear refusal, never
another exception (a 500); a table written by a spreadsheet in any delimiter, line ending and
encoding we claim to read comes back cell for cell, and our answer reads back as the input
plus our columns. Then random files through the console's and the API's checks."""
import codecs
import csv
import io

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from consent_server import csvfiles
from consent_server.errors import Invalid, TooLarge

# Norwegian and Western text, the delimiters, quotes and line breaks inside cells, the
# characters that make a formula: what real lists hold (no NUL, which is refused apart; no bare
# CR, which Python's writer leaves unquoted with LF line ends, so that no reader could tell).
CELL = st.text(st.sampled_from("abcxyzæøåÆØÅéü 0123456789@.-_=+'\"\t,;\n€«»"), max_size=12)
OTHER_NAMES = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzæøå "), min_size=1,
                      max_size=10).filter(lambda n: csvfiles.key(n)
                                          and csvfiles.key(n) not in csvfiles.ADDRESS_KEYS)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]


@st.composite
def spreadsheets(draw):
    """(bytes, header, rows, delimiter, encoding): a CSV as Excel, Numbers or a tool writes it."""
    others = draw(st.lists(OTHER_NAMES, min_size=1, max_size=4, unique_by=csvfiles.key))
    header = list(others)
    header.insert(draw(st.integers(0, len(others))), draw(st.sampled_from(
        ["Email Address", "E-post", "email", "EMAIL", "e-postadresse", "Mail"])))
    rows = draw(st.lists(st.lists(CELL, min_size=len(header), max_size=len(header)),
                         min_size=1, max_size=8))
    rows = [row for row in rows if any(row)]  # a blank line is skipped, as it should be
    assume(rows)
    delimiter = draw(st.sampled_from(csvfiles.DELIMITERS))
    encoding = draw(st.sampled_from(ENCODINGS))
    ending = draw(st.sampled_from(["\r\n", "\n"]))
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=ending).writerows([header, *rows])
    return out.getvalue().encode(encoding), header, rows, delimiter, encoding


@given(st.binary(max_size=400))
@settings(max_examples=400, deadline=None)
def test_any_bytes_are_a_table_or_a_clear_refusal(data):
    """REQ S-04: random bytes are read or refused with Invalid / TooLarge (a 4xx), nothing else."""
    try:
        table = csvfiles.read(data, most=50)
    except (Invalid, TooLarge):
        return
    assert table.header and all(len(row) == len(table.header) for row in table.rows)


@given(spreadsheets())
@settings(max_examples=300, deadline=None)
def test_a_spreadsheets_table_comes_back_cell_for_cell(sheet):
    """REQ M-09: in UTF-8 (with or without BOM) and UTF-16, every delimiter and line ending, the
    header and every cell are read as written, the address column found by its name, and the
    answer reads back as the same table plus our two columns. A Windows-1252 file is read cell
    for cell when detected as such, or refused as an encoding we cannot recognise (random
    letters such as "aÅÅa;Æ" are too chaotic for charset-normalizer to name; real names are
    read: tests/test_csv_files.py)."""
    data, header, rows, delimiter, encoding = sheet
    if encoding == "cp1252":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                table = csvfiles.read(data, most=50)
            except csvfiles.Unreadable as refused:  # letters in an order no language has
                assert refused.problem == "encoding"
                return
            if table.encoding == "cp1252":
                assert (table.header, table.rows) == (header, rows)
            return
    table = csvfiles.read(data, most=50)
    assert (table.header, table.rows) == (header, rows)
    assert table.delimiter == delimiter
    assert csvfiles.key(header[table.address]) in csvfiles.ADDRESS_KEYS
    answer = csvfiles.answer(table, ["consent_status", "consent_reason"],
                             [("allowed", "consent")] * len(rows))
    # A byte order mark back when the file had one (Excel then reads ours right); a Windows-1252
    # file that reached here is plain ASCII, which is UTF-8 text, so none.
    assert answer.startswith(codecs.BOM_UTF8) == (encoding in ("utf-8-sig", "utf-16"))
    back = csvfiles.read(answer, most=50)
    assert back.header == header + ["consent_status", "consent_reason"]
    assert [[csvfiles.unsafe(c) for c in row[:len(header)]] for row in back.rows] == rows
    assert all(row[len(header):] == ["allowed", "consent"] for row in back.rows)


FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def marketer(app, signed_in):
    return signed_in(app, "fuzz.marketer@example.com", "marketing")


@pytest.fixture
def marketing_key(api_key):
    return api_key("marketing")


@given(data=st.one_of(st.binary(max_size=300), spreadsheets().map(lambda s: s[0])))
@FUZZ
def test_the_consoles_check_answers_any_file_with_a_file_or_a_page(marketer, csrf_token, data):
    """REQ S-04: the console's check, given any file: the CSV back (200) or a page that says
    what is wrong (413/422), never a 500."""
    url = "/console/marketing/check"
    resp = marketer.post(url, data={"csrf_token": csrf_token(marketer, url),
                                    "purpose": "newsletter",
                                    "file": (io.BytesIO(data), "list.csv")},
                         content_type="multipart/form-data")
    assert resp.status_code in (200, 413, 422), resp.status_code
    if resp.status_code == 200:
        assert resp.mimetype == "text/csv"


@given(data=st.one_of(st.binary(max_size=300), spreadsheets().map(lambda s: s[0])))
@FUZZ
def test_the_apis_check_answers_any_csv_with_a_csv_or_a_problem(client, marketing_key, data):
    """REQ S-04: POST /api/v1/marketing/check with any text/csv body: a CSV or problem+json."""
    resp = client.post("/api/v1/marketing/check?purpose=newsletter", data=data,
                       headers={**marketing_key, "Content-Type": "text/csv"})
    assert resp.status_code in (200, 413, 422), resp.status_code
    if resp.status_code != 200:
        assert resp.mimetype == "application/problem+json"

"""Text that no database stores: a NUL character (PostgreSQL refuses it in text) or a lone
surrogate (no UTF-8 can carry it). Refused where requests come in (S-04): http/inputs.py for
paths, query strings and forms, the JSON parsers for bodies, the CSV reader for cells."""
import re

BAD = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "The request holds a NUL character or a lone surrogate, which no field may hold."


def bad_text(value) -> bool:
    """True when value (a string, or a JSON value: lists and objects, keys too) holds a NUL
    or a lone surrogate anywhere."""
    if isinstance(value, str):
        return BAD.search(value) is not None
    if isinstance(value, dict):
        return any(bad_text(k) or bad_text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(bad_text(item) for item in value)
    return False

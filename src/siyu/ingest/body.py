"""Reading an ingest request body: decompression under a cap, JSON that one bad call cannot spoil.

Runs in a worker thread (never on the event loop): inflating and parsing 8 MiB takes tens of
milliseconds, and a gzip bomb must cost no more than the cap. The cap applies to the
*decompressed* size, so a 254 KiB gzip that would expand to 1 GiB stops at 8 MiB + 1 byte.

orjson parses the common body. Three things it refuses are a single call's fault, not the
batch's, and must not cost the other calls (the Segment SDKs drop the whole batch on a 400):
nesting deeper than 1,024 levels, lone UTF-16 surrogates (``"\\ud800"``) and numbers beyond a
double (``1e400``). For those bodies over-deep subtrees are cut to ``null`` (the call holding
them still nests deeper than the limit, so validation rejects it by index), and the standard
library parser, which accepts the rest, takes a second look; validation then rejects the
offending calls one by one. Integers beyond 64 bits become doubles, as orjson reads them.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from typing import Any

import orjson

from siyu.ingest.messages import OutOfRangeNumber

#: zlib window bits per Content-Encoding (gzip header, or the zlib wrapper HTTP calls deflate).
ENCODINGS: dict[str, int | None] = {
    "": None,
    "identity": None,
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}
#: Levels of the envelope above a call's fields: the body object, ``batch`` and the call.
ENVELOPE_DEPTH = 4
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


class BodyError(ValueError):
    """The body as a whole cannot be read (not one call of it)."""


class BodyTooLarge(BodyError):
    pass


class UnsupportedEncoding(BodyError):
    pass


def inflate(raw: bytes, encoding: str, limit: int) -> bytes:
    """``raw`` decoded per ``Content-Encoding``, never producing more than ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding not in ENCODINGS:
        raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported; use gzip or deflate")
    wbits = ENCODINGS[encoding]
    if wbits is None:
        if len(raw) > limit:
            raise BodyTooLarge(f"body larger than {limit} bytes; send smaller batches")
        return raw
    out = bytearray()
    data = raw
    try:
        while data:  # gzip allows several members one after the other
            inflater = zlib.decompressobj(wbits)
            while True:
                # max_length is never 0 here (0 would mean "no limit").
                chunk = inflater.decompress(data, limit + 1 - len(out))
                out += chunk
                if len(out) > limit:
                    raise BodyTooLarge(f"body larger than {limit} bytes decompressed; send smaller batches")
                data = inflater.unconsumed_tail
                if inflater.eof or (not data and not chunk):
                    break
            if not inflater.eof:
                raise BodyError(f"body is not valid {encoding}: the compressed data ends early")
            data = inflater.unused_data
            if data and encoding == "deflate":
                raise BodyError("body is not valid deflate: data after the end of the stream")
    except zlib.error as exc:
        raise BodyError(f"body is not valid {encoding}: {exc}") from exc
    return bytes(out)


def cut_deep(raw: bytes, depth: int) -> bytes:
    """``raw`` with every array or object nested deeper than ``depth`` replaced by ``null``
    (strings are skipped whole, so brackets inside them do not count)."""
    parts: list[bytes] = []
    pos = 0
    level = 0
    cutting = False
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token[0] == 0x22:  # a string
            continue
        if token in (b"[", b"{"):
            level += 1
            if level == depth + 1 and not cutting:
                parts.append(raw[pos : match.start()])
                cutting = True
        else:
            if level == depth + 1 and cutting:
                parts.append(b"null")
                pos = match.end()
                cutting = False
            level -= 1
    parts.append(raw[pos:])  # unbalanced input stays unbalanced and fails to parse, as it should
    return b"".join(parts)


def _float(text: str) -> float | OutOfRangeNumber:
    value = float(text)
    return value if math.isfinite(value) else OutOfRangeNumber(text)


def _int(text: str) -> int | float:
    """Beyond 64 bits an integer becomes a double, as orjson (and JavaScript) reads it."""
    value = int(text) if len(text) < 400 else None  # int() refuses over 4,300 digits
    return value if value is not None and -(2**63) <= value < 2**64 else _float(text)


def parse_json(raw: bytes, max_depth: int) -> Any:
    """The body's JSON value (see the module docstring for bodies orjson refuses)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        first = exc
    if "depth" in str(first):
        raw = cut_deep(raw, max_depth + ENVELOPE_DEPTH)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(raw, parse_float=_float, parse_int=_int, parse_constant=OutOfRangeNumber)
    except (ValueError, RecursionError):
        raise BodyError(f"not valid JSON: {first}") from first


def read_body(raw: bytes, encoding: str, limit: int, max_depth: int) -> dict[str, Any]:
    """Decode, parse and check the shape of one ingest request body."""
    try:
        value = parse_json(inflate(raw, encoding, limit), max_depth)
    except BodyError as exc:
        if type(exc) is not BodyError or not str(exc).startswith("not valid JSON"):
            raise
        raise BodyError(f"body is {exc}") from exc
    if not isinstance(value, dict):
        raise BodyError(f"body must be a JSON object, got {type(value).__name__}")
    return value

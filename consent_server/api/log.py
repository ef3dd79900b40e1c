"""The public transparency log (L-10): the C2SP checkpoint and verifier key, tiles, and RFC 9162
proofs as JSON for clients without a tlog library. No key: nothing here is personal."""
import re

from flask import Response, current_app, request
from marshmallow import RAISE, fields, validate

from ..errors import Invalid
from ..extensions import db
from ..ledger import cosign, note, signing, transparency
from . import Blueprint
from .schemas import StrictSchema

blp = Blueprint("log", __name__, url_prefix="/api/v1/log",
                description="Transparency log proofs (RFC 9162)")
tlog = Blueprint("tlog", __name__, url_prefix="/log",
                 description="Transparency log: C2SP checkpoint, verifier key and tiles")

TEXT = "text/plain; charset=utf-8"
CHECKPOINT_MAX_AGE = 5  # seconds: a client polling the checkpoint is served from caches
# C2SP tlog-tiles: <L>/<N>[.p/<W>], N in groups of three digits, all but the last with an x.
TILE_PATH = re.compile(r"(?P<n>(?:x\d{3}/)*\d{3})(?:\.p/(?P<w>\d{1,3}))?")
IMMUTABLE = "public, max-age=31536000, immutable"


def _key() -> signing.SigningKey:
    return current_app.extensions["consent_signing_key"]


def _origin() -> str:
    return note.origin(current_app.config["PUBLIC_URL"])


class InclusionArgsSchema(StrictSchema):
    seq = fields.Integer(required=True, validate=validate.Range(min=1, max=2**62))
    size = fields.Integer(validate=validate.Range(min=1, max=2**62),
                          metadata={"description": "the tree size (default: the whole log)"})


class ConsistencyArgsSchema(StrictSchema):
    from_ = fields.Integer(required=True, data_key="from",
                           validate=validate.Range(min=1, max=2**62))
    to = fields.Integer(validate=validate.Range(min=1, max=2**62),
                        metadata={"description": "the newer tree size (default: the whole log)"})


class InclusionSchema(StrictSchema):
    """RFC 9162 §2.1.3 inclusion proof of event `seq` (leaf seq - 1); hashes in base64."""

    seq = fields.Integer()
    leaf_index = fields.Integer()
    tree_size = fields.Integer()
    event_hash = fields.String()
    leaf_hash = fields.String()
    root = fields.String()
    proof = fields.List(fields.String())


class ConsistencySchema(StrictSchema):
    """RFC 9162 §2.1.4 consistency proof between two tree sizes; hashes in base64."""

    from_ = fields.Integer(data_key="from")
    to = fields.Integer()
    from_root = fields.String()
    to_root = fields.String()
    proof = fields.List(fields.String())


@blp.route("/proof/inclusion")
@blp.arguments(InclusionArgsSchema, location="query", unknown=RAISE)
@blp.response(200, InclusionSchema)
def inclusion(args):
    """The inclusion proof of one event in the tree of a given size."""
    return transparency.inclusion(db.session, args["seq"], args.get("size"))


@blp.route("/proof/consistency")
@blp.arguments(ConsistencyArgsSchema, location="query", unknown=RAISE)
@blp.response(200, ConsistencySchema)
def consistency(args):
    """The consistency proof between two tree sizes."""
    answer = transparency.consistency(db.session, args["from_"], args.get("to"))
    return {**answer, "from_": answer.pop("from")}


def _text(body: str, max_age: int) -> Response:
    return Response(body, mimetype=TEXT, headers={"Cache-Control": f"public, max-age={max_age}"})


@tlog.route("/checkpoint")
@tlog.doc(responses={"200": {"description": "a C2SP signed note", "content": {"text/plain": {}}}})
def checkpoint():
    """The log's checkpoint (C2SP tlog-checkpoint), signed as a C2SP note."""
    body = transparency.signed_checkpoint(db.session, _key(), _origin())
    return _text(body, CHECKPOINT_MAX_AGE)


@tlog.route("/key")
@tlog.doc(responses={"200": {"description": "<name>+<hex id>+<base64 key>",
                             "content": {"text/plain": {}}}})
def verifier_key():
    """The note verifier key of the checkpoint's signatures."""
    return _text(transparency.verifier_key(_key(), _origin()) + "\n", 3600)


@tlog.route("/cosignature", methods=["POST"])
@tlog.doc(requestBody={"content": {"text/plain": {"schema": {"type": "string"}}}},
          responses={"200": {"description": "how many cosignatures were kept",
                             "content": {"text/plain": {}}}})
def add_cosignature():
    """A witness's cosignature (C2SP tlog-cosignature): the checkpoint's text and its line."""
    witnesses = cosign.witnesses(current_app.config["WITNESSES"])
    body = request.get_data(as_text=True)
    if len(body) > 16384 or not body:
        raise Invalid("a cosigned checkpoint is a short text note")
    kept = transparency.add_cosignature(db.session, witnesses, _origin(), body)
    return _text(f"kept {kept} cosignature(s)\n", 0)


def _tile_path(index: str) -> tuple[int, int | None]:
    """A tile's index and width from its path (`x001/234.p/5`); Invalid for anything else."""
    found = TILE_PATH.fullmatch(index)
    width = None if found is None or found["w"] is None else int(found["w"])
    if found is None or (width is not None and not 1 <= width < 256):
        raise Invalid("not a tile path: <level>/<index in x000/ groups>[.p/<width>]")
    return int(found["n"].replace("x", "").replace("/", "")), width


@tlog.route("/tile/entries/<path:index>")
@tlog.doc(responses={"200": {"description": "the entries (event hashes), each a big-endian "
                                            "uint16 length and the entry",
                             "content": {"application/octet-stream": {}}}})
def entry_bundle(index):
    """An entry bundle (C2SP tlog-tiles): the event hashes the leaves are made from."""
    number, width = _tile_path(index)
    data = transparency.entries(db.session, number, width)
    cache = IMMUTABLE if width is None else f"public, max-age={CHECKPOINT_MAX_AGE}"
    return Response(data, mimetype="application/octet-stream", headers={"Cache-Control": cache})


@tlog.route("/tile/<int:level>/<path:index>")
@tlog.doc(responses={"200": {"description": "the tile's hashes, 32 bytes each",
                             "content": {"application/octet-stream": {}}}})
def tile(level, index):
    """A tile of the tree's hashes (C2SP tlog-tiles); full tiles are immutable."""
    number, width = _tile_path(index)
    if level > 7:
        raise Invalid("not a tile path: <level>/<index in x000/ groups>[.p/<width>]")
    data = transparency.tile(db.session, level, number, width)
    cache = IMMUTABLE if width is None else f"public, max-age={CHECKPOINT_MAX_AGE}"
    return Response(data, mimetype="application/octet-stream", headers={"Cache-Control": cache})

"""The OpenAPI document tells the truth about errors: application/problem+json (RFC 9457)."""
from apispec import BasePlugin
from marshmallow import Schema, fields

PROBLEM = "application/problem+json"


class ProblemSchema(Schema):
    """An error, as every endpoint answers it (errors.problem)."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True, metadata={"example": "Unprocessable Content"})
    status = fields.Integer(required=True, metadata={"example": 422})
    detail = fields.String(metadata={"example": "The request body did not validate; see errors."})
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(),
                         metadata={"description": "per field, a list of messages"})


class ProblemResponses(BasePlugin):
    """flask-smorest registers one response component per status (and DEFAULT_ERROR), all
    errors, as application/json: document them under the media type we really send."""

    def response_helper(self, response, **kwargs):
        content = response.get("content") or {}
        if "application/json" in content:
            return {"content": {PROBLEM: content["application/json"]}}
        return None

"""Every error as RFC 9457 problem details (application/problem+json), from one place."""
from flask import Flask, Response, json
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, InternalServerError

from .http.openapi import PROBLEM, ProblemResponses, ProblemSchema


class DomainError(Exception):
    """An error a service raises for the caller to see: status, title, detail, per-field errors."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, errors: dict | None = None, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        if status:
            self.status = status


class NotFound(DomainError):
    status = 404
    title = "Not Found"


class Invalid(DomainError):
    status = 422
    title = "Unprocessable Content"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Gone(DomainError):
    status = 410
    title = "Gone"


class TooLarge(DomainError):
    status = 413
    title = "Content Too Large"


class TooManyRequests(DomainError):
    status = 429
    title = "Too Many Requests"


def problem(status: int, title: str, detail: str | None = None, errors=None, headers=None):
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    resp = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def _flatten(messages) -> dict:
    """webargs nests errors by location ({"json": {field: [...]}}): keep {field: [...]}."""
    if not isinstance(messages, dict):
        return {"_body": messages if isinstance(messages, list) else [str(messages)]}
    out = {}
    for location, errors in messages.items():
        if isinstance(errors, dict) and location in ("json", "query", "form", "headers",
                                                     "view_args", "files", "cookies"):
            out.update(errors)
        else:
            out[location] = errors
    return out


def from_http_exception(error: HTTPException) -> Response:
    """Problem details for any HTTPException (abort, routing, webargs validation)."""
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    errors = _flatten(errors) if errors else None
    detail = data.get("message") or error.description
    if error.code == 400 and errors and "_body" not in errors and list(errors) == ["json"]:
        detail, errors = errors["json"][0], None  # malformed JSON: one sentence says it all
    if error.code == 422:
        detail = "The request body did not validate; see errors."
    headers = dict(data.get("headers") or {})
    if error.code == 405 and (allow := error.get_headers()):
        headers.update({k: v for k, v in allow if k == "Allow"})
    if error.code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return problem(error.code or 500, error.name, detail, errors, headers)


class ProblemApi(Api):
    """flask-smorest's Api, answering errors as problem+json (and documenting them so)."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self):
        super().__init__(spec_kwargs={"extra_plugins": [ProblemResponses()]})

    def handle_http_exception(self, error):
        return from_http_exception(error)


def init_app(app: Flask) -> None:
    """Register the handlers that make every error problem+json."""

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return problem(error.status, error.title, error.detail, error.errors, headers)

    @app.errorhandler(InternalServerError)
    def internal_error(_error: InternalServerError):
        # Flask has logged the exception; nothing of it reaches the client. Nothing is left
        # half-written: every write is a transaction of its own (database.writing), and the
        # request's session, which only reads, is removed when the request ends.
        return problem(500, "Internal Server Error", "Something went wrong on our side.")

    app.register_error_handler(HTTPException, from_http_exception)

"""flask-smorest blueprints, one per audience."""
import json

import flask
import flask_smorest
from flask_smorest import abort
from marshmallow import Schema, missing
from webargs import core
from webargs.flaskparser import FlaskParser

BAD_JSON = "The request body is not valid JSON in UTF-8."


class Parser(FlaskParser):
    """webargs' parser, reading JSON bodies itself (load_json is its public hook for that).

    A JSON body sent as text/plain counts too: browsers send that without a CORS preflight.
    """

    def load_json(self, req: flask.Request, schema: Schema):
        if not (core.is_json(req.mimetype) or req.mimetype == "text/plain"):
            return missing
        body = req.get_data(cache=True)
        if not body:
            return missing
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # also bad UTF-8, and integers of 4,300+ digits
            abort(400, message=BAD_JSON)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

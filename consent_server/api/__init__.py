"""flask-smorest blueprints, one per audience."""
import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser


class Parser(FlaskParser):
    """Reads a JSON body sent as text/plain too: browsers send that without a CORS preflight."""

    def _raw_load_json(self, req: flask.Request):
        if req.mimetype == "text/plain":
            return core.parse_json(req.get_data(cache=True))
        return super()._raw_load_json(req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

"""GET /widget.js: the banner script (JS and CSS in one response)."""
from flask import Blueprint

bp = Blueprint("widget", __name__)

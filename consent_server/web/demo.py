"""GET /demo: a small shop page that embeds the banner as a customer would."""
from flask import Blueprint

bp = Blueprint("demo", __name__, template_folder="templates")

"""The privacy notice as HTML: /privacy (negotiated), /privacy/nb, /privacy/en."""
from flask import Blueprint

bp = Blueprint("notice", __name__, template_folder="templates")

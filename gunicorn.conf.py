"""gunicorn reads this file from the checkout (`make serve`): the settings live in the package,
so that an installed wheel has them too (`-c python:consent_server.gunicorn_conf`)."""
from consent_server.gunicorn_conf import *  # noqa: F401,F403

"""The WSGI entry point: gunicorn wsgi:app, flask --app wsgi ..."""
from consent_server import create_app

app = create_app()

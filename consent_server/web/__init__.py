"""HTML pages and the banner script: the notice, the widget, the demo shop, people's pages."""
from flask import Flask

from . import demo, look, notice, signup, subscriptions, widget


def init_app(app: Flask) -> None:
    """Register the page blueprints."""
    for module in (notice, widget, demo, subscriptions, signup, look):
        app.register_blueprint(module.bp)

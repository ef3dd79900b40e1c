"""HTML pages and the banner script: the notice, the widget, the demo shop."""
from flask import Flask


def init_app(app: Flask) -> None:
    """Register the page blueprints."""
    from . import demo, notice, subscriptions, widget

    for module in (notice, widget, demo, subscriptions):
        app.register_blueprint(module.bp)

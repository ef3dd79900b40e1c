"""`flask consent make-keys`, and the guard of every command that needs the server's keys."""
import functools

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import server_keys


def with_keys(command):
    """with_appcontext, and a one-line refusal (no traceback) while a key is missing."""

    @with_appcontext
    @functools.wraps(command)
    def guarded(*args, **kwargs):
        missing = current_app.extensions.get("consent_missing_keys")
        if missing:
            raise click.ClickException(server_keys.message(missing, current_app.instance_path))
        return command(*args, **kwargs)

    return guarded


@click.command("make-keys")
@with_appcontext
def make_keys():
    """Make the server's keys that are missing in the instance folder (mode 0600); never
    replaces one."""
    folder = current_app.instance_path
    written = server_keys.make(folder)
    for name in written:
        click.echo(f"made {folder}/{name}")
    kept = [name for name in server_keys.FILES.values() if name not in written]
    if kept:
        click.echo(f"kept {', '.join(kept)} in {folder} (mode 0600)")


COMMANDS = [make_keys]

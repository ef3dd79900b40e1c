"""The server's three keys: each from its CONSENT_* variable, else the file of its name in the
instance folder (`flask consent make-keys`, or `make keys`, writes them with mode 0600)."""
import logging
import os
import secrets

import click
from flask import Flask

from .ledger.signing import generate

# The config name of each key and its file in the instance folder.
FILES = {"SECRET_KEY": "secret_key", "EMAIL_HASH_KEY": "email_hash_key",
         "SIGNING_KEY": "signing_key"}
log = logging.getLogger(__name__)


class MissingKeys(RuntimeError):
    """Keys that are neither in the environment nor in the instance folder."""

    def __init__(self, names: list[str], instance_path: str):
        self.names = names
        super().__init__(message(names, instance_path))


def message(names: list[str], instance_path: str) -> str:
    """One line: which keys are missing, and how to make them."""
    variables = ", ".join(f"CONSENT_{name}" for name in names)
    files = ", ".join(FILES[name] for name in names)
    return (f"missing {variables}: neither set nor in {instance_path} ({files}); make them with "
            "`flask consent make-keys` (or `make keys` in a checkout), or export them")


def load(app: Flask) -> list[str]:
    """Fill each key the configuration leaves unset from instance/<name>; the names of the keys
    still missing. The names of those read from files are in extensions["consent_key_files"]."""
    missing, read = [], app.extensions.setdefault("consent_key_files", [])
    for name, filename in FILES.items():
        if app.config.get(name):
            continue
        path = os.path.join(app.instance_path, filename)
        try:
            with open(path, encoding="ascii") as file:
                text = file.read().strip()
        except FileNotFoundError:
            text = ""
        if not text:
            missing.append(name)
            continue
        app.config[name] = text
        read.append(name)
        if os.stat(path).st_mode & 0o077:
            log.warning("%s can be read by others than its owner: chmod 600 it", path)
    return missing


def make(instance_path: str) -> list[str]:
    """Write every key file that is missing, mode 0600, and tighten existing ones to 0600 (a key
    is never replaced); the names of the files written."""
    os.makedirs(instance_path, exist_ok=True)
    written = []
    for name, filename in FILES.items():
        path = os.path.join(instance_path, filename)
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            os.chmod(path, 0o600)
            continue
        write(path, generate() if name == "SIGNING_KEY" else secrets.token_hex(32))
        written.append(filename)
    return written


def write(path: str, value: str) -> None:
    """Write a key to a file only its owner may read (mode 0600 from the start)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(value + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that was there already


def building_for_a_command() -> bool:
    """Whether the app is being built by a `flask` command that does not serve (not `run`): it
    may then start without its keys, and each command that needs them refuses in one line."""
    context = click.get_current_context(silent=True)
    return context is not None and context.command.name != "run"

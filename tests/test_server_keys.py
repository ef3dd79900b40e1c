"""The server's three keys: from CONSENT_* or instance/<name>; `make-keys` writes them mode
0600; every `--help` works without any key; a command that needs one says so in one line
(REQ S-08). The development server's log holds no token (REQ S-06)."""
import logging
import os
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup
from werkzeug.serving import make_server

from consent_server import create_app, server_keys

ROOT = Path(__file__).resolve().parents[1]
VARIABLES = ("CONSENT_SECRET_KEY", "CONSENT_EMAIL_HASH_KEY", "CONSENT_SIGNING_KEY")


@pytest.fixture
def no_keys(monkeypatch, tmp_path):
    """No key in the environment, an empty instance folder; its path."""
    for name in (*VARIABLES, "FLASK_DEBUG", "CONSENT_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    instance = tmp_path / "instance"
    monkeypatch.setenv("CONSENT_INSTANCE_PATH", str(instance))
    return instance


@pytest.fixture
def flask_cli(monkeypatch):
    """invoke(*args): `flask ...` in this process, on the app the factory builds as `flask
    --app wsgi` does (in the command's click context). FlaskGroup marks the process as run from
    the `flask` command (FLASK_RUN_FROM_CLI), which makes a later app.run(), pytest-flask's
    live server, do nothing: the mark is taken back after the test."""
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")
    group = FlaskGroup(create_app=create_app, load_dotenv=False, set_debug_flag=False)
    return lambda *args: CliRunner().invoke(group, list(args), catch_exceptions=False)


def test_each_key_comes_from_its_variable_or_else_its_instance_file(no_keys, monkeypatch):
    written = server_keys.make(str(no_keys))
    assert sorted(written) == ["email_hash_key", "secret_key", "signing_key"]
    app = create_app()
    for name, filename in server_keys.FILES.items():
        assert app.config[name] == (no_keys / filename).read_text().strip()
    monkeypatch.setenv("CONSENT_EMAIL_HASH_KEY", "from-the-environment")
    assert create_app().config["EMAIL_HASH_KEY"] == "from-the-environment"


def test_the_server_refuses_to_start_without_its_keys_naming_them(no_keys):
    with pytest.raises(server_keys.MissingKeys) as refused:
        create_app()
    assert refused.value.names == ["SECRET_KEY", "EMAIL_HASH_KEY", "SIGNING_KEY"]
    assert "make-keys" in str(refused.value) and "\n" not in str(refused.value)


def test_make_keys_writes_all_three_mode_0600_and_never_replaces_one(no_keys, flask_cli):
    no_keys.mkdir()
    (no_keys / "secret_key").write_text("made-by-an-older-make-keys\n")
    os.chmod(no_keys / "secret_key", 0o644)
    result = flask_cli("consent", "make-keys")
    assert result.exit_code == 0, result.output
    assert "made" in result.output and "kept secret_key" in result.output
    for filename in server_keys.FILES.values():
        assert stat.S_IMODE((no_keys / filename).stat().st_mode) == 0o600, filename
    assert (no_keys / "secret_key").read_text() == "made-by-an-older-make-keys\n"
    before = {f: (no_keys / f).read_text() for f in server_keys.FILES.values()}
    assert flask_cli("consent", "make-keys").exit_code == 0
    assert before == {f: (no_keys / f).read_text() for f in server_keys.FILES.values()}
    assert flask_cli("consent", "init-db").exit_code == 0
    assert flask_cli("consent", "verify").exit_code == 0  # the keys are found: it ran


def _commands():
    """Every command below `flask consent`, as argument lists."""
    group = FlaskGroup(create_app=create_app, load_dotenv=False)
    before = os.environ.get("FLASK_RUN_FROM_CLI")  # FlaskGroup sets it (see flask_cli)
    with group.make_context("flask", ["consent", "--help"], resilient_parsing=True) as ctx:
        command = group.get_command(ctx, "consent")
    if before is None:
        os.environ.pop("FLASK_RUN_FROM_CLI", None)
    else:
        os.environ["FLASK_RUN_FROM_CLI"] = before
    found = []

    def walk(cmd, names):
        subcommands = getattr(cmd, "commands", None)
        if subcommands is None:
            found.append(names)
            return
        for name, sub in subcommands.items():
            walk(sub, [*names, name])

    walk(command, ["consent"])
    return found


def test_every_help_works_without_any_key(no_keys, flask_cli):
    commands = _commands()
    assert len(commands) > 15 and ["consent", "verify"] in commands
    for args in [[], ["consent"], *commands]:
        result = flask_cli(*args, "--help")
        assert result.exit_code == 0, (args, result.output)
        assert "Usage:" in result.output and "Traceback" not in result.output
    assert not any(no_keys.glob("*_key"))  # asking for help makes no key


@pytest.mark.parametrize("args", [["consent", "verify"], ["consent", "create-key", "--role",
                                   "admin", "--name", "x"], ["consent", "disable-user", "x"]])
def test_a_command_that_needs_a_missing_key_says_which_in_one_line(no_keys, flask_cli, args):
    result = flask_cli(*args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "CONSENT_SECRET_KEY" in lines[0] and "CONSENT_SIGNING_KEY" in lines[0]
    assert "flask consent make-keys" in lines[0]


def test_a_fresh_checkout_make_keys_then_any_command_with_no_variable(no_keys):
    """The real `flask --app wsgi`, as an operator types it."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "consent"]

    def run(*args):
        return subprocess.run([*flask, *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)

    helped = run("--help")
    assert helped.returncode == 0 and "make-keys" in helped.stdout, helped.stderr
    refused = run("checkpoint")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert run("make-keys").returncode == 0
    assert run("init-db").returncode == 0
    checkpoint = run("checkpoint")
    assert checkpoint.returncode == 0 and '"signature"' in checkpoint.stdout, checkpoint.stderr


def test_the_development_servers_log_names_routes_not_tokens(app, caplog):
    """REQ S-06: werkzeug's request lines under `make run` carry the URL rule, not the path."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    token = "eyJzZWNyZXQiOiJ0b2tlbiJ9.ZZZsecretsignature"
    consent_id = "c9Qx7TzR2aB4kLmN0pQr8w"
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for path in (f"/subscriptions/me/{token}", f"/unsubscribe/{token}?x={token}",
                         f"/api/v1/consents/{consent_id}", f"/nowhere/{token}"):
                try:
                    urllib.request.urlopen(base + path, timeout=10).close()
                except urllib.error.HTTPError:
                    pass
    finally:
        server.shutdown()
        thread.join()
    text = caplog.text
    assert token not in text and consent_id not in text
    assert "GET /subscriptions/me/<token> HTTP/1.1" in text
    assert "GET /unsubscribe/<token> HTTP/1.1" in text
    assert "GET /api/v1/consents/<consent_id> HTTP/1.1" in text
    assert "GET - HTTP/1.1" in text

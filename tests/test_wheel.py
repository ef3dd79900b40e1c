"""The wheel works on its own: built from the tracked files, installed into a new venv outside
the checkout with the locked dependencies, it serves what the repository serves.

Slow (a build, a venv, an install): it runs when CONSENT_TEST_WHEEL=1, as `.ci/run` sets.
"""
import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest

from consent_server.config import CHECKOUT

pytestmark = pytest.mark.skipif(
    os.environ.get("CONSENT_TEST_WHEEL") != "1" or CHECKOUT is None,
    reason="builds and installs the wheel: set CONSENT_TEST_WHEEL=1 (CI does)")


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the files git tracks (nothing untracked gets in)."""
    tmp = tmp_path_factory.mktemp("wheel")
    tracked = run("git", "ls-files", "-z", cwd=CHECKOUT).stdout.split("\0")
    source = tmp / "source"
    for name in filter(None, tracked):
        if (CHECKOUT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((CHECKOUT / name).read_bytes())
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp / "dist"),
        str(source))
    return next((tmp / "dist").glob("consent_server-*.whl"))


def test_the_wheel_carries_the_widget_catalogs_migrations_and_site_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("consent_server/consent/site.toml", "consent_server/migrations/env.py",
                   "consent_server/translations/nb/LC_MESSAGES/messages.mo",
                   "consent_server/translations/en/LC_MESSAGES/messages.mo",
                   "consent_server/web/templates/notice.html"):
        assert needed in names, needed
    assert any(n.startswith("consent_server/widget/") for n in names)
    assert not any("node_modules" in n or n.endswith(".pyc") for n in names)


def get(url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read().decode()


def test_installed_from_the_wheel_it_serves_the_banner_notice_demo_and_api(wheel, tmp_path,
                                                                           free_port):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    run(*pip, "--require-hashes", "-r", str(CHECKOUT / "requirements.lock"))
    run(*pip, "--no-deps", str(wheel))
    run(str(venv / "bin" / "python"), "-m", "pip", "check")  # the lock covers the wheel's needs
    python = str(venv / "bin" / "python")
    signing_key = run(python, "-c", "from consent_server.ledger.signing import generate; "
                      "print(generate())", cwd=tmp_path).stdout.strip()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "CONSENT_SECRET_KEY": "wheel-test",
           "CONSENT_EMAIL_HASH_KEY": "wheel-test-email", "CONSENT_SIGNING_KEY": signing_key,
           "CONSENT_INSTANCE_PATH": str(tmp_path), "HOME": str(tmp_path)}
    flask = [str(venv / "bin" / "flask"), "--app", "consent_server", "consent"]
    assert "upgraded" in run(*flask, "init-db", cwd=tmp_path, env=env).stdout
    assert "published notice version 1" in run(*flask, "publish-policy", cwd=tmp_path,
                                               env=env).stdout
    port = free_port()
    server = subprocess.Popen([str(venv / "bin" / "gunicorn"), "-b", f"127.0.0.1:{port}",
                               "consent_server:create_app()"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        status, headers, body = get(f"{base}/widget.js")
        assert status == 200 and "javascript" in headers["Content-Type"] and "ConsentServer" in body
        status, _, body = get(f"{base}/privacy/nb")
        assert status == 200 and "Personvernerklæring" in body and "Bygdøy Allé 10" in body
        status, _, body = get(f"{base}/demo")
        assert status == 200 and "widget.js" in body
        config = json.loads(get(f"{base}/api/v1/config?lang=nb")[2])
        assert config["texts"]["accept_all"] == "Godta alle"  # the compiled catalog is there
        assert config["policy_version"] == "1"
        answer = json.loads(get(f"{base}/api/v1/consents", data=json.dumps({
            "choices": {"analytics": True, "marketing": False}, "policy_version": "1",
            "language": "nb"}).encode(), headers={"Content-Type": "application/json"})[2])
        assert answer["choices"] == {"necessary": True, "analytics": True, "marketing": False}
        assert json.loads(get(f"{base}/openapi.json")[2])["info"]["title"] == "consent-server"
    finally:
        server.terminate()
        server.wait(10)

"""Fixtures for tests/browser/: Debian's Chromium under Playwright, axe-core, and the settings
of an app that pytest-flask's `live_server` serves to the browser."""
import base64
import hashlib
import io
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.pool import NullPool

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None

REPO = Path(__file__).resolve().parent.parent
BROWSER_TESTS = REPO / "tests" / "browser"
# Debian's chromium (apt-get install chromium), never a browser downloaded by Playwright.
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                        else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
NO_BROWSER = ("playwright (Python) is not installed" if sync_playwright is None
              else "no Chromium: apt-get install chromium" if CHROMIUM is None else None)
AXE = REPO / ".cache" / "axe-core-4.14.1.min.js"
AXE_TARBALL = "https://registry.npmjs.org/axe-core/-/axe-core-4.14.1.tgz"
AXE_INTEGRITY = ("sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFoo"
                 "JpZe37OgudVGtQ==")


def pytest_collection_modifyitems(items):
    """Every test in tests/browser/ is marked `browser`, and skips with the reason when there
    is no Playwright or no Chromium (whatever fixtures it uses)."""
    for item in items:
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.browser)
            if NO_BROWSER:
                item.add_marker(pytest.mark.skip(reason=NO_BROWSER))


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def launch_chromium(playwright):
    """launch_chromium(*args): a headless Debian Chromium, with more command line arguments."""

    def launch(*args):
        return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *args])

    return launch


@pytest.fixture(scope="module")
def browser(launch_chromium):
    """Headless Chromium, one per test module."""
    chromium = launch_chromium()
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def axe_script():
    """axe-core from the npm registry (pinned, integrity checked), kept in .cache; not shipped."""
    if not AXE.exists():
        try:
            with urllib.request.urlopen(AXE_TARBALL, timeout=60) as response:
                tarball = response.read()
        except OSError as error:
            pytest.skip("axe-core is not in .cache and the npm registry cannot be reached: "
                        f"{error}")
        digest = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        assert f"sha512-{digest}" == AXE_INTEGRITY, "axe-core tarball does not match its integrity"
        with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
            script = archive.extractfile("package/axe.min.js").read()
        AXE.parent.mkdir(parents=True, exist_ok=True)
        AXE.write_bytes(script)
    return str(AXE)


@pytest.fixture
def axe(axe_script):
    """axe(page): axe-core's violations on the page as it is now, as [id, impact, targets]."""

    def violations(page):
        page.add_script_tag(path=axe_script)
        return page.evaluate("""() => axe.run(document, {resultTypes: ['violations']})
            .then((r) => r.violations.map((v) => [v.id, v.impact,
                v.nodes.map((n) => n.target.join(' '))]))""")

    return violations


@pytest.fixture
def live_settings(free_port) -> dict:
    """Settings for an app that pytest-flask's `live_server` serves (in a process of its own,
    forked from this one): the port is chosen here, so that the app knows its public address
    (CONSENT_PUBLIC_URL: links, the notice's URL, its own pages' origin) before the fork, and
    no pooled database connection or SQLite writer-lock descriptor crosses the fork (NullPool)."""
    port = free_port()
    return {"LIVESERVER_PORT": port, "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": NullPool}}

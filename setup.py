"""The wheel carries what the server reads besides its code: widget/, migrations/ and the
catalogs (the .po files and the .mo files compiled from them here, never committed).

In a checkout (and an editable install) the server reads the top-level folders themselves
(config.resource); the wheel puts them inside the package, where the same function finds them.
"""
import shutil
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# What the server does not read: the widget's build tooling and sources, caches.
SKIP = shutil.ignore_patterns("node_modules", "package.json", "package-lock.json", "build.mjs",
                              "src", "__pycache__", "*.pyc", "*.mo")


class BuildWithData(build_py):
    """build_py, then the data folders copied into the package and the catalogs compiled."""

    def run(self):
        super().run()
        if self.editable_mode:  # the checkout's own folders are read in place
            return
        package = Path(self.build_lib) / "consent_server"
        for name in ("widget", "migrations", "translations"):
            shutil.copytree(ROOT / name, package / name, ignore=SKIP, dirs_exist_ok=True)
        for po in (package / "translations").glob("*/LC_MESSAGES/messages.po"):
            with open(po, "rb") as source:
                catalog = read_po(source, locale=po.parts[-3])
            with open(po.with_suffix(".mo"), "wb") as target:
                write_mo(target, catalog)


setup(cmdclass={"build_py": BuildWithData})

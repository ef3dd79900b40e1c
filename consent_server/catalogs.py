"""The translation catalogs: extract, update and compile them with Babel's command line."""
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

from .config import CHECKOUT, Config, resource

SOURCE = resource("translations")  # the .po files (committed) and the .mo files
POT = SOURCE / "messages.pot"
LANGUAGES = Config.LANGUAGES


def pybabel(*args: str) -> None:
    """Run `pybabel ARGS` in this process (Babel's public command-line interface)."""
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(output: Path) -> None:
    """Write every translatable string in the code to a .pot file (mapping: pyproject.toml)."""
    if CHECKOUT is None:
        raise RuntimeError("extracting strings needs the project's checkout")
    pybabel("extract", "-F", str(CHECKOUT / "pyproject.toml"), "-k", "_l", "--no-location",
            "--sort-output", "--omit-header", "-o", str(output), str(CHECKOUT / "consent_server"))


def update(template: Path) -> None:
    """Merge a template's new strings into the nb, nn and en catalogs."""
    pybabel("update", "-i", str(template), "-d", str(SOURCE), "--no-fuzzy-matching",
            "--ignore-obsolete")


def compile_all(directory: Path | str, source: Path = SOURCE) -> None:
    """Compile every catalog in source into directory/<lang>/LC_MESSAGES/messages.mo."""
    for lang in LANGUAGES:
        (Path(directory) / lang / "LC_MESSAGES").mkdir(parents=True, exist_ok=True)
        pybabel("compile", "-i", str(source / lang / "LC_MESSAGES" / "messages.po"),
                "-d", str(directory), "-l", lang)

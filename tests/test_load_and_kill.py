"""The short version of `make bench`'s load-and-kill run (L-06): mixed traffic against the
production gunicorn configuration, the server's process group SIGKILLed once mid-load and
started again; every write acknowledged is in the ledger and the chain verifies."""
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "load_and_kill.py"


def test_acknowledged_writes_survive_sigkill_and_the_chain_verifies(app, database_url):
    """REQ L-06: a write is acknowledged only once durable: after a SIGKILL of arbiter and
    workers mid-load, every 2xx write the client saw is in the ledger, and verify is ok."""
    run = subprocess.run([sys.executable, str(BENCH), "--database-url", database_url,
                          "--duration", "4", "--connections", "8", "--kills", "1"],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2, run.stdout
    for line, kills in zip(lines, (0, 1), strict=False):
        assert f"kills={kills} " in line and "missing=0" in line and "verify=ok" in line, line
        acknowledged = int(re.search(r"acknowledged=(\d+)", line).group(1))
        in_ledger = int(re.search(r"in_ledger=(\d+)", line).group(1))
        assert acknowledged == in_ledger > 0, line
    assert "status none" in lines[0], lines[0]  # without a kill, nothing but 2xx

"""What the Merkle tree costs and what its proofs save, measured in one run (issue 22).

1. POST /api/v1/consents with the tree against without it (its integration switched off),
   in alternating rounds through the app's test client, on SQLite and on PostgreSQL: the ratio
   with/without per round and the median (the tree may cost at most 10 %).
2. A consistency proof between checkpoints 1,000,000 events apart (sizes N and N + 1,000,000),
   on the pure functions over a tree built in memory: time to make and to check it, and the
   number of hashes each needs; an inclusion proof's likewise.
3. Tiles served: GET /log/tile/0/000 (a full tile) per second through the test client.

  .venv/bin/python bench/tree_bench.py [--db sqlite,pg] [--posts 400] [--rounds 4]
      [--pg postgresql+psycopg://postgres@127.0.0.1:5432] [--apart 1000000]

PostgreSQL: creates and drops the database consent_tree_bench on 127.0.0.1 only.
"""
import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from flask_migrate import upgrade

from consent_server import create_app, ledger
from consent_server.consent import notices
from consent_server.extensions import db
from consent_server.ledger import signing, tree, treestore
from consent_server.models import utcnow

PG_DB = "consent_tree_bench"
BATCH = treestore.BATCH  # as shipped


def log(*parts):
    print(*parts, flush=True)


def make_app(url: str):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                      "SECRET_KEY": "bench-only-" + "x" * 32, "SIGNING_KEY": signing.generate(),
                      "EMAIL_HASH_KEY": "bench-" + "k" * 32, "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        notices.publish(db.session, app.extensions["consent_site"], app.config["LANGUAGES"],
                        utcnow(), False, True)
    return app


def posts_per_second(client, n: int) -> tuple[float, float]:
    """POSTs per second of wall time, and per second of this process's CPU time (steadier on
    a loaded machine; on PostgreSQL it leaves out the server's share)."""
    body = {"choices": {"analytics": True, "marketing": False}, "policy_version": "1",
            "language": "nb"}
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        assert client.post("/api/v1/consents", json=body).status_code == 201
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


def bench_posts(name: str, url: str, posts: int, rounds: int) -> float:
    app = make_app(url)
    client = app.test_client()
    posts_per_second(client, 100)  # warm up
    ratios, cpu_ratios = [], []
    for round_ in range(rounds):
        rates = {}
        for mode in ("without", "with") if round_ % 2 else ("with", "without"):
            treestore.BATCH = 10**18 if mode == "without" else BATCH  # never, or as shipped
            if mode == "with":  # the backlog of a round without, untimed: steady state only
                with app.app_context():
                    treestore.integrate(db.session)
            rates[mode] = posts_per_second(client, posts)
        treestore.BATCH = BATCH
        ratios.append(rates["with"][0] / rates["without"][0])
        cpu_ratios.append(rates["with"][1] / rates["without"][1])
        log(f"  {name} round {round_ + 1}: with tree {rates['with'][0]:.0f}/s, without "
            f"{rates['without'][0]:.0f}/s, ratio {ratios[-1]:.3f} (CPU time: "
            f"{cpu_ratios[-1]:.3f})")
    log(f"  {name} median ratio of CPU time per POST, without / with: "
        f"{statistics.median(cpu_ratios):.3f}")
    with app.app_context():
        treestore.integrate(db.session)
        assert ledger.verify(db.session).ok
    treestore.BATCH = 10**18  # one batch's integration, timed alone
    spent = []
    with app.app_context():
        for _ in range(8):
            posts_per_second(client, BATCH)
            start = time.perf_counter()
            treestore.integrate(db.session)
            spent.append(time.perf_counter() - start)
    treestore.BATCH = BATCH
    log(f"  {name} integrating a batch of {BATCH} events: median "
        f"{statistics.median(spent) * 1e3:.2f} ms")
    client.get("/log/checkpoint")
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < 3:
        assert len(client.get("/log/tile/0/000").data) == 8192
        n += 1
    log(f"  {name} tiles: {n / (time.perf_counter() - start):.0f} full tiles/s "
        "(GET /log/tile/0/000, test client, one thread)")
    with app.app_context():
        db.engine.dispose()
    return statistics.median(ratios)


class Counting:
    """tree.node_hash counted (proofs' hash work)."""

    def __init__(self):
        self.count, self.original = 0, tree.node_hash

    def __enter__(self):
        def counted(left, right):
            self.count += 1
            return self.original(left, right)
        tree.node_hash = counted
        return self

    def __exit__(self, *exc):
        tree.node_hash = self.original


def bench_proofs(apart: int, old: int) -> None:
    new = old + apart
    start = time.perf_counter()
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(new)]
    get = tree.memory(leaves)
    log(f"  built a synthetic tree of {new:,} leaves in {time.perf_counter() - start:.1f} s")
    old_root, new_root = tree.root(old, get), tree.root(new, get)
    with Counting() as made:
        start = time.perf_counter()
        proof = tree.consistency_proof(old, new, get)
        make_s = time.perf_counter() - start
    with Counting() as checked:
        start = time.perf_counter()
        assert tree.verify_consistency(old, new, old_root, new_root, proof)
        check_s = time.perf_counter() - start
    log(f"  consistency {old:,} -> {new:,}: {len(proof)} proof hashes; made in "
        f"{make_s * 1e3:.2f} ms ({made.count} hashes), checked in {check_s * 1e3:.2f} ms "
        f"({checked.count} hashes)")
    index = old + apart // 3
    with Counting() as made:
        start = time.perf_counter()
        proof = tree.inclusion_proof(index, new, get)
        make_s = time.perf_counter() - start
    with Counting() as checked:
        start = time.perf_counter()
        assert tree.verify_inclusion(index, new, leaves[index], proof, new_root)
        check_s = time.perf_counter() - start
    log(f"  inclusion of leaf {index:,} in {new:,}: {len(proof)} proof hashes; made in "
        f"{make_s * 1e3:.2f} ms ({made.count} hashes), checked in {check_s * 1e3:.2f} ms "
        f"({checked.count} hashes)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,pg")
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--apart", type=int, default=1_000_000)
    parser.add_argument("--old", type=int, default=1_000_003)
    args = parser.parse_args()
    medians = {}
    for name in args.db.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = "sqlite:///" + str(Path(folder) / "bench.db")
                medians[name] = bench_posts(name, url, args.posts, args.rounds)
        else:
            if "127.0.0.1" not in args.pg and "localhost" not in args.pg:
                raise SystemExit("--pg must be a local server")
            admin = args.pg.replace("postgresql+psycopg", "postgresql") + "/postgres"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
                conn.execute(f"CREATE DATABASE {PG_DB}")
            try:
                medians[name] = bench_posts(name, f"{args.pg}/{PG_DB}", args.posts, args.rounds)
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
    for name, median in medians.items():
        log(f"POST with tree / without, median: {name} {median:.3f}")
    bench_proofs(args.apart, args.old)


if __name__ == "__main__":
    main()

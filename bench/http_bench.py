"""HTTP throughput of our POST /api/v1/consents against the bare Flask insert app, as a ratio.

Serves consent-server (wsgi:app) and the bare baseline (../shared/bench/backend/baseline_app.py,
beside the repository) with the same gunicorn settings (sync, 4 workers, 127.0.0.1 only), loads
them alternately with wrk, and prints per round ours_POST_per_s / bare_POST_per_s and the median.
Afterwards every acknowledged write must be in its database (missing 0), our ledger must verify,
and there must be no errors. SQLite always; PostgreSQL too when it answers at 127.0.0.1:5432.

  .venv/bin/python bench/http_bench.py [--db auto|sqlite|pg|sqlite,pg] [--duration 10]
      [--rounds 3] [--connections 32] [--pg postgresql+psycopg://postgres@127.0.0.1:5432]
  .venv/bin/python bench/http_bench.py --profile [cprofile|pyinstrument] [--db sqlite]

Exit status 1 when anything was lost or failed (the ratio itself never fails the run: the
machine is noisy). See bench/README.md for how to read the output.
"""
import argparse
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUR_LUA = ROOT / "bench" / "consent_post.lua"
SHARED = ROOT.parent / "shared" / "bench" / "backend"  # the CI clone has shared/ beside the repo
BASELINE = SHARED / "baseline_app.py"
BARE_LUA = SHARED / "consent.lua"
WRK = "/usr/bin/wrk"
WORKERS = 4
# How both apps are served (only the app differs): ours with the production configuration
# (gunicorn.conf.py, Redis limits when Redis answers), the baseline with the same worker class,
# workers, threads and an access log. "nginx": nginx in front of each, as README's Production.
SERVES = {"gthread": dict(worker_class="gthread", proxy=False),
          "sync": dict(worker_class="sync", proxy=False),
          "nginx": dict(worker_class="sync", proxy=True)}
NGINX = "/usr/sbin/nginx"
REDIS = ("127.0.0.1", 6379)
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DBS = {"ours": "consent_bench_ours", "bare": "consent_bench_bare"}
LOCAL = {"127.0.0.1", "localhost", "::1"}
TARGET = 0.9
TCK = os.sysconf("SC_CLK_TCK")
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
      "Safari/537.36")  # as in consent_post.lua


def log(*parts):
    print(*parts, flush=True)


# --- processes -------------------------------------------------------------------------------

def clean_env(**extra):
    """Our environment minus CONSENT_*, BENCH_*, DATABASE_URL: no shell setting leaks in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONSENT_", "BENCH_")) and k != "DATABASE_URL"}
    env.update(extra)
    return env


def run(cmd, env, cwd, what):
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"{what} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return out.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError):
        return 0


def busy_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # everything but idle and iowait


def postgres_pids():
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "postgres":
                        pids.append(int(d))
            except OSError:
                pass
    return pids


class Server:
    """One gunicorn in its own session: Ctrl-C reaches us, not it, and we stop its whole group."""

    def __init__(self, name, cmd, env, logdir, port=None, cwd=None):
        self.name, self.port = name, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logpath = Path(logdir) / f"{name}.log"
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=cwd)

    def wait_ready(self, health):
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + health, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"gunicorn {self.name} did not come up:\n"
                                 f"{self.logpath.read_text()[-3000:]}")
            time.sleep(0.2)
        time.sleep(1.0)  # the health check reached one worker; let the others finish booting

    def cpu_ticks(self):
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        return sum(proc_ticks(p) for p in [self.proc.pid, *kids])

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the group we created: master + workers
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.log.close()


def gunicorn(name, app, chdir, env, logdir, serve):
    """Ours: the production configuration file; the baseline: the same worker settings."""
    cls = SERVES[serve]["worker_class"]
    port = free_port()
    if name.startswith("ours"):
        metrics = Path(logdir) / f"metrics_{name}"  # make serve's multiprocess /metrics
        metrics.mkdir()
        env = {**env, "CONSENT_WORKER_CLASS": cls, "WEB_CONCURRENCY": str(WORKERS),
               "CONSENT_LOG_LEVEL": "warning", "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        settings = ["-c", str(ROOT / "gunicorn.conf.py")]
    else:
        settings = ["-k", cls, "-w", str(WORKERS), "--threads", "16" if cls == "gthread" else "1",
                    "--keep-alive", "5", "--timeout", "30", "--log-level", "warning",
                    "--access-logfile", "-"]
    # Started in the app's folder: gunicorn reads ./gunicorn.conf.py where it starts, and ours
    # must not configure the baseline.
    return Server(name, [sys.executable, "-m", "gunicorn", *settings, "-b", f"127.0.0.1:{port}",
                         "--chdir", str(chdir), app], env, logdir, port, cwd=chdir)


NGINX_CONF = """daemon off; worker_processes 1;
pid {tmp}/{name}.pid; error_log {tmp}/{name}.err warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/{name}_body; proxy_temp_path {tmp}/{name}_proxy;
  fastcgi_temp_path {tmp}/{name}_fcgi; uwsgi_temp_path {tmp}/{name}_uwsgi;
  scgi_temp_path {tmp}/{name}_scgi;
  client_header_timeout 10s; client_body_timeout 10s; client_max_body_size 16m;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"""


def nginx(name, upstream, logdir):
    """nginx in front of a gunicorn, buffering each request before passing it on."""
    port = free_port()
    conf = Path(logdir) / f"{name}.conf"
    conf.write_text(NGINX_CONF.format(tmp=logdir, name=name, port=port, upstream=upstream.port))
    return Server(name, [NGINX, "-c", str(conf), "-p", str(logdir)], os.environ.copy(), logdir,
                  port)


def shared_limits(env):
    """Production's shared rate limits (README) in ours' environment when Redis answers, with a
    key space of this run's own."""
    if redis_answers():
        env.update(CONSENT_RATELIMIT_STORAGE_URL=f"redis://{REDIS[0]}:{REDIS[1]}",
                   CONSENT_RATELIMIT_KEY_PREFIX=f"bench-{secrets.token_hex(4)}")


def redis_answers():
    try:
        with socket.create_connection(REDIS, timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class PgWatch:
    """New server connections to one database, through one connection of its own (opened
    before the first count, so it is not among them); all zero on SQLite."""

    def __init__(self, url):
        pg = local_url(url).get_backend_name() == "postgresql"
        self.conn = pg_connect(url, autocommit=True) if pg else None

    def _one(self, sql, *params):
        return self.conn.execute(sql, params).fetchone()[0] if self.conn else 0

    def sessions(self):
        """Connections ever opened to it (pg_stat_database), short-lived ones included."""
        self._one("SELECT pg_stat_clear_snapshot() IS NULL")
        return self._one("SELECT sessions FROM pg_stat_database WHERE datname = "
                         "current_database()")

    def now(self):
        return self._one("SELECT clock_timestamp()")

    def new_since(self, t0):
        """Connections opened since t0 and still open (the pool's: none after the warm-up)."""
        return self._one("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                         "current_database() AND backend_start >= %s AND pid <> "
                         "pg_backend_pid()", t0)

    def close(self):
        if self.conn:
            self.conn.close()


def run_wrk(server, lua, args, env_extra, duration, url=None):
    """One wrk run (one thread) with CPU shares: whose CPU paid for the requests, and how noisy.
    `server` is a list (gunicorn, and nginx in front when proxied: its CPU counts too)."""
    cmd = [WRK, "-t1", f"-c{args.connections}", f"-d{duration}s", "--timeout", "10s",
           "-s", str(lua), server[-1].url]
    pg0 = {p: proc_ticks(p) for p in postgres_pids()}
    busy0, srv0 = busy_ticks(), sum(x.cpu_ticks() for x in server)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    out = subprocess.run(cmd, env=clean_env(**env_extra), capture_output=True, text=True,
                         timeout=duration + 60)
    wall = time.time() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, srv1 = busy_ticks(), sum(x.cpu_ticks() for x in server)
    pg_cpu = sum(proc_ticks(p) - pg0.get(p, 0) for p in postgres_pids()) / TCK
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no RESULT line:\n{out.stdout}{out.stderr}")
    r = json.loads(line[7:])
    n = max(r["n2xx"], 1)
    srv_cpu = (srv1 - srv0) / TCK
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    busy = (busy1 - busy0) / TCK
    r.update(
        ok_rps=r["n2xx"] / (r["duration_us"] / 1e6),
        non2xx=r["requests"] - r["n2xx"] + r["nbadbody"],
        sockerr=r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"],
        cpu_ms=1000 * srv_cpu / n, pg_ms=1000 * pg_cpu / n, busy=100 * busy / wall,
        foreign=max(0.0, 100 * (busy - srv_cpu - wrk_cpu - pg_cpu) / wall))
    return r


# --- databases ------------------------------------------------------------------------------

def local_url(url):
    """The URL parsed, refusing anything but this machine: the benchmark never leaves 127.0.0.1."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "postgresql" and (u.host or "localhost") not in LOCAL:
        raise SystemExit(f"--pg must point at 127.0.0.1, not {u.host}")
    return u


def pg_connect(url, dbname=None, **kw):
    import psycopg

    u = local_url(url)
    return psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username,
                           password=u.password, dbname=dbname or u.database, **kw)


def pg_available(base):
    try:
        with pg_connect(base, "postgres", connect_timeout=3):
            return True, ""
    except Exception as error:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        return False, str(error).strip().splitlines()[0]


def pg_recreate(base, names, drop_only=False):
    from psycopg import sql

    with pg_connect(base, "postgres", autocommit=True, connect_timeout=5) as c:
        for name in names:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                      .format(sql.Identifier(name)))
            if not drop_only:
                c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def fresh_databases(kind, args, tmp, serve):
    """Two empty databases, ours and the baseline's, as SQLAlchemy URLs."""
    if kind == "sqlite":
        return {k: f"sqlite:///{tmp}/{k}_{serve}.db" for k in PG_DBS}
    pg_recreate(args.pg, PG_DBS.values())
    u = local_url(args.pg)
    return {k: u.set(database=name).render_as_string(hide_password=False)
            for k, name in PG_DBS.items()}


def missing(url, table, cols, rows):
    """(acknowledged rows not in the table, rows in the table): one temp table and NOT EXISTS."""
    u = local_url(url)
    sqlite = u.get_backend_name() == "sqlite"
    conn = sqlite3.connect(u.database) if sqlite else pg_connect(url)
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE TEMP TABLE acked ({', '.join(c + ' TEXT' for c in cols)})")
        mark = "?" if sqlite else "%s"
        cur.executemany(f"INSERT INTO acked VALUES ({', '.join([mark] * len(cols))})",
                        sorted(rows))
        match = " AND ".join(f"t.{c} = a.{c}" for c in cols)
        cur.execute(f"SELECT count(*) FROM acked a WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {table} t WHERE {match})")
        lost = cur.fetchone()[0]
        cur.execute(f"SELECT count(*) FROM {table}")
        return lost, cur.fetchone()[0]
    finally:
        conn.rollback()
        conn.close()


# --- the two apps ---------------------------------------------------------------------------

def prepare(kind, args, tmp, serve="sync"):
    """Fresh databases with their schemas; the environments both apps run with."""
    urls = fresh_databases(kind, args, tmp, serve)
    from consent_server.ledger.signing import generate

    ours = clean_env(CONSENT_SECRET_KEY=secrets.token_hex(32), CONSENT_DATABASE_URL=urls["ours"],
                     CONSENT_EMAIL_HASH_KEY=secrets.token_hex(32), CONSENT_SIGNING_KEY=generate(),
                     # wrk is one client address: the limiter counts (as in production) but
                     # never refuses
                     CONSENT_RATELIMIT_PUBLIC="1000000000/minute",
                     CONSENT_INSTANCE_PATH=str(Path(tmp) / f"instance_{kind}_{serve}"))
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "consent"]
    run(flask + ["init-db"], ours, ROOT, "flask consent init-db")
    # The app refuses consents to an unpublished notice version: publish version "1" first.
    run(flask + ["publish-policy"], ours, ROOT, "flask consent publish-policy")
    bare = clean_env(BENCH_DB_URL=urls["bare"])
    run([sys.executable, str(BASELINE), "init"], bare, tmp, "baseline_app.py init")
    return urls, ours, bare


def bench_db(kind, serve, args, tmp):
    """Warm up, then rounds of ours and bare back to back (order rotating), then the checks."""
    urls, ours_env, bare_env = prepare(kind, args, tmp, serve)
    proxied = SERVES[serve]["proxy"]
    if proxied:
        ours_env["CONSENT_TRUSTED_PROXIES"] = "1"  # nginx's X-Forwarded-For names the client
    shared_limits(ours_env)
    apps = {"ours": dict(lua=OUR_LUA, acked=[], runs=[]),
            "bare": dict(lua=BARE_LUA, acked=[], runs=[])}
    servers = {"ours": [], "bare": []}
    watch = {name: PgWatch(urls[name]) for name in servers}
    sessions0 = {name: w.sessions() for name, w in watch.items()}
    label = f"{kind}_{serve}"
    try:
        # Registered as soon as started, so the finally below stops them whatever happens next.
        servers["ours"].append(gunicorn(f"ours_{label}", "wsgi:app", ROOT, ours_env, tmp, serve))
        servers["bare"].append(gunicorn(f"bare_{label}", "baseline_app:app", SHARED, bare_env,
                                        tmp, serve))
        if proxied:
            for name in servers:
                servers[name].append(nginx(f"nginx_{name}_{label}", servers[name][0], tmp))
        for name, health in (("ours", "/healthz"), ("bare", "/hello")):
            for server in servers[name]:
                server.wait_ready(health)

        def load(name, duration, tag):
            acked = Path(tmp) / f"acked_{kind}_{name}_{tag}.txt"
            errs = Path(tmp) / f"errors_{kind}_{name}_{tag}.txt"
            lua_env = {"BENCH_MODE": "post", "BENCH_ACKED": str(acked), "BENCH_ERRBODY": str(errs)}
            t0 = watch[name].now()
            r = run_wrk(servers[name], apps[name]["lua"], args, lua_env, duration)
            r["newconn"] = watch[name].new_since(t0)
            apps[name]["acked"] += acked.read_text().split("\n") if acked.exists() else []
            apps[name]["runs"].append(r)
            log(f"  {kind:6} {serve:7} {tag:7} {name:4}  POST/s {r['ok_rps']:7.1f}  "
                f"2xx {r['n2xx']:6d}  "
                f"non2xx {r['non2xx']}  sockerr {r['sockerr']}  "
                f"p50 {r['lat_p50_us'] / 1000:6.1f} ms  p99 {r['lat_p99_us'] / 1000:6.1f} ms  "
                f"cpu/POST {r['cpu_ms']:.2f} ms"
                + (f" +pg {r['pg_ms']:.2f} ms  new conns {r['newconn']}" if kind == "pg" else "")
                + f"  machine busy {r['busy']:.0f}% (foreign {r['foreign']:.0f}%)")
            if errs.exists() and errs.read_text().strip():
                log(f"    first error: {errs.read_text().strip()[:300]}")
            return r

        if args.warmup:  # first requests pay for lazy imports and new connections: not counted
            for name in ("ours", "bare"):
                load(name, args.warmup, "warmup")
        rounds = []
        for i in range(1, args.rounds + 1):
            order = ("ours", "bare") if i % 2 else ("bare", "ours")  # rotate: no order bias
            got = {name: load(name, args.duration, f"round {i}")["ok_rps"] for name in order}
            rounds.append((got["ours"], got["bare"], got["ours"] / max(got["bare"], 1e-9)))
            log(f"  {kind:6} {serve:7} round {i}  ratio ours/bare = {got['ours']:.1f} / "
                f"{got['bare']:.1f} = {rounds[-1][2]:.3f}")
    finally:
        for chain in servers.values():
            for server in reversed(chain):
                server.stop()  # also lets in-flight requests finish before we count
    result = {"kind": kind, "serve": serve, "rounds": rounds,
              "ratio": statistics.median(r[2] for r in rounds),
              "threads": WORKERS * (16 if SERVES[serve]["worker_class"] == "gthread" else 1)}
    for name, table, cols in (("ours", "consent_event", ("subject", "event_id")),
                              ("bare", "consent", ("consent_id",))):
        rows = {tuple(line.split()) for line in apps[name]["acked"] if line.strip()}
        lost, stored = missing(urls[name], table, cols, rows)
        runs = apps[name]["runs"]
        result[name] = dict(
            acked=len(rows), stored=stored, missing=lost, extra=stored - (len(rows) - lost),
            errors=sum(r["non2xx"] + r["sockerr"] for r in runs),
            sessions=watch[name].sessions() - sessions0[name],  # warm-up included
            newconn=max((r.get("newconn", 0) for r in runs[-args.rounds:]), default=0),
            cpu_ms=statistics.median(r["cpu_ms"] + r["pg_ms"] for r in runs[-args.rounds:]))
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "consent", "verify"],
                         env=ours_env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    result["verify"] = (out.stdout + out.stderr).strip()
    result["verify_ok"] = out.returncode == 0 and out.stdout.startswith("ok")
    for w in watch.values():
        w.close()
    if kind == "pg" and not args.keep:
        pg_recreate(args.pg, PG_DBS.values(), drop_only=True)
    return result


def summary(results):
    log("\n== summary (POST/s counts 2xx answers only; cpu/POST: server CPU, PostgreSQL's "
        "included, median of the rounds) ==")
    log(f"{'db':6} {'serve':7} {'round':7} {'ours POST/s':>11} {'bare POST/s':>11} {'ratio':>6}")
    for res in results:
        at = f"{res['kind']:6} {res['serve']:7}"
        for i, (o, b, q) in enumerate(res["rounds"], 1):
            log(f"{at} {i:<7} {o:11.1f} {b:11.1f} {q:6.3f}")
        log(f"{at} {'median':7} {statistics.median(r[0] for r in res['rounds']):11.1f} "
            f"{statistics.median(r[1] for r in res['rounds']):11.1f} {res['ratio']:6.3f}")
    log(f"\n{'db':6} {'serve':7} {'app':4} {'acked':>7} {'stored':>7} {'missing':>7} "
        f"{'extra':>5} {'errors':>6} {'cpu/POST':>9} {'conns':>5} {'new/run':>7}")
    for res in results:
        at = f"{res['kind']:6} {res['serve']:7}"
        for name in ("ours", "bare"):
            a = res[name]
            log(f"{at} {name:4} {a['acked']:7d} {a['stored']:7d} {a['missing']:7d} "
                f"{a['extra']:5d} {a['errors']:6d} {a['cpu_ms']:6.2f} ms {a['sessions']:5d} "
                f"{a['newconn']:7d}")
        log(f"{at} verify: {res['verify']}")
    log("(extra = stored but never acknowledged: requests in flight when wrk stopped, "
        "at most connections x runs; conns = PostgreSQL connections opened in all, warm-up "
        "included; new/run = the most opened during one timed run and still open)\n")
    bad = False
    for res in results:
        errors = res["ours"]["errors"] + res["bare"]["errors"]
        lost = res["ours"]["missing"] + res["bare"]["missing"]
        verify = "ok" if res["verify_ok"] else "FAILED"
        conns = res["ours"]["newconn"]
        bad |= bool(errors or lost or not res["verify_ok"] or conns > res["threads"])
        log(f"RATIO {res['kind']} {res['serve']} post ours/bare = {res['ratio']:.2f} "
            f"(target >= {TARGET}), errors {errors}, missing {lost}, verify {verify}, "
            f"new connections per run {conns} (threads {res['threads']})")
    return bad


# --- profile --------------------------------------------------------------------------------

def area(filename, funcname):
    """Which package a profiled function belongs to (C functions: their module)."""
    if filename == "~":
        m = re.search(r"of '([\w.]+)' objects|built-in method ([\w.]+)", funcname)
        name = (m.group(1) or m.group(2)) if m else funcname
        return "C " + (name.split(".")[0] if "." in name else "builtins")
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1].split("/")[0].removesuffix(".py")
    if filename.startswith(str(ROOT / "consent_server")):
        module = Path(filename).relative_to(ROOT / "consent_server").with_suffix("")
        return "consent_server." + module.as_posix().replace("/", ".")
    if filename.startswith(str(SHARED)):
        return Path(filename).stem
    m = re.search(r"/lib/python3[.\d]*/([^/]+)", filename)
    return "stdlib " + m.group(1).removesuffix(".py") if m else filename


def profile_child(which, n, profiler):
    """In one process, no HTTP server: N POSTs straight into the WSGI app, timed, then profiled."""
    import uuid

    from werkzeug.test import EnvironBuilder

    if which == "ours":
        sys.path.insert(0, str(ROOT))
        from consent_server import create_app

        app, path = create_app(), "/api/v1/consents"
        body = lambda: {"event_id": str(uuid.uuid4()), "policy_version": "1",  # noqa: E731
                        "choices": {"analytics": True, "marketing": False}, "language": "nb"}
    else:
        sys.path.insert(0, str(SHARED))
        import baseline_app

        app, path = baseline_app.app, "/consent"
        body = lambda: {"consent_id": uuid.uuid4().hex, "policy_version": "2026-11-01",  # noqa: E731
                        "purposes": {"analytics": True, "marketing": False, "newsletter": False}}

    def environs(k):  # built before timing: the builder is test machinery, not the app's cost
        return [EnvironBuilder(path=path, method="POST", json=body(), headers={"User-Agent": UA},
                               environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
                for _ in range(k)]

    def post_all(envs):
        status = []
        for env in envs:
            status.clear()
            it = app(env, lambda s, h, exc=None: status.append(s))
            try:
                b"".join(it)
            finally:
                getattr(it, "close", lambda: None)()
            if not status[0].startswith("201"):
                raise SystemExit(f"{which}: POST answered {status[0]}")

    post_all(environs(100))
    envs = environs(n)
    t0 = time.perf_counter()
    post_all(envs)
    plain = 1000 * (time.perf_counter() - t0) / n
    log(f"PROFILE_MS {which} {plain:.4f}")
    log(f"{which}: {plain:.3f} ms per POST unprofiled ({n} POSTs, one process, no HTTP server)")
    log(f"{which}: {cpu_per_post(post_all, environs):.3f} ms CPU per POST (least of 5 rounds)")
    if which == "ours":
        protections(app, post_all, environs)
    envs = environs(n)
    if profiler == "pyinstrument":
        from pyinstrument import Profiler

        prof = Profiler(interval=0.0002)
        prof.start()
        post_all(envs)
        prof.stop()
        text = prof.output_text(unicode=False, color=False, show_all=False)
        log(f"{which}: pyinstrument call tree; times are seconds for all {n} POSTs")
        log("\n".join(text.splitlines()[: 80 if which == "ours" else 40]))
        return
    import cProfile
    import pstats

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(post_all, envs)
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats
    per = lambda seconds: 1000 * seconds / n  # noqa: E731 - ms per POST
    by_area = {}
    for (fname, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.items():
        key = area(fname, func)
        by_area[key] = by_area.get(key, 0) + tt
    log(f"{which}: {per(wall):.3f} ms per POST under cProfile; self time by package:")
    for key, tt in sorted(by_area.items(), key=lambda kv: -kv[1])[:18 if which == "ours" else 10]:
        log(f"  {per(tt):7.3f} ms {100 * tt / wall:5.1f}%  {key}")
    top = [(key, v) for key, v in sorted(stats.items(), key=lambda kv: -kv[1][3])
           if key[0] != "~" and not key[2].startswith("<")]  # C calls: inside their callers
    own = [(key, v) for key, v in top
           if area(key[0], key[2]).startswith(("consent_server", "baseline"))]

    def show(title, rows, limit):
        log(f"{which}: {title} (cumulative ms per POST, % of the POST, calls per POST):")
        for (fname, line, func), (_cc, nc, _tt, ct, _callers) in rows[:limit]:
            log(f"  {per(ct):7.3f} ms {100 * ct / wall:5.1f}%  {nc / n:4.1f}x  "
                f"{area(fname, func)}:{func}:{line}")

    show("every function", top[1:], 30 if which == "ours" else 12)  # [0] is post_all itself
    show("the app's own functions", own, 25 if which == "ours" else 5)


def cpu_per_post(post_all, environs, rounds=5, n=400):
    """CPU (process time) per POST, the least of a few rounds: steadier than wall time on a
    shared machine."""
    best = float("inf")
    for _ in range(rounds):
        envs = environs(n)
        t0 = time.process_time()
        post_all(envs)
        best = min(best, 1000 * (time.process_time() - t0) / n)
    return best


def protections(app, post_all, environs):
    """What our protections cost a POST, in one process: CPU per POST with each switched off on
    top of the ones before (so the last line is the bare write path: parse, check, chain,
    append, answer). Rounds interleave the steps, so a busy moment spreads over all of them."""
    from consent_server.ledger import receipts

    issue, budgets = receipts.issue_here, app.extensions["consent_limits"]
    hooks = {name: {key: list(funcs) for key, funcs in table.items()}
             for name, table in (("before", app.before_request_funcs),
                                 ("after", app.after_request_funcs))}
    steps = ("everything on", "- rate limits", "- request hooks", "- receipt")

    def switch(step):
        on = steps.index(step)
        budgets.enabled = on < 1
        for name, table in (("before", app.before_request_funcs),
                            ("after", app.after_request_funcs)):
            table.clear()
            if on < 2:
                table.update({key: list(funcs) for key, funcs in hooks[name].items()})
        receipts.issue_here = issue if on < 3 else (lambda answer: "-")

    best = dict.fromkeys(steps, float("inf"))
    for _ in range(5):
        for step in steps:
            switch(step)
            best[step] = min(best[step], cpu_per_post(post_all, environs, rounds=1))
    switch(steps[0])
    log("ours: CPU per POST with our protections switched off one after another (rate limits: "
        "their storage's round trip; request hooks: input check, origin guard, CSRF, CORS, "
        "security headers, metrics, the log's route; receipt: the Ed25519 JWS):")
    before = None
    for step in steps:
        cost = "" if before is None else f"  (it cost {1000 * (before - best[step]):5.0f} us)"
        log(f"  {step:16} {best[step]:.3f} ms{cost}")
        before = best[step]


def profile(args, kinds, tmp):
    """Profile ours (and time the baseline the same way) per database; prints the top of it."""
    if args.profile == "pyinstrument":
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            raise SystemExit("pyinstrument is not installed: .venv/bin/pip install pyinstrument"
                             ) from None
    for kind in kinds:
        urls, ours_env, bare_env = prepare(kind, args, tmp)
        shared_limits(ours_env)
        ms = {}
        for which, env in (("ours", ours_env), ("bare", bare_env)):
            log(f"\n== profile {kind} {which} ==")
            out = subprocess.run([sys.executable, __file__, "--profile-child", which, "--profile",
                                  args.profile, "--profile-requests", str(args.profile_requests)],
                                 env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
            for line in out.stdout.splitlines():
                if line.startswith("PROFILE_MS "):
                    ms[which] = float(line.split()[2])
                else:
                    log(line)
            if out.returncode:
                raise SystemExit(f"profile of {which} failed:\n{out.stderr[-3000:]}")
        log(f"\nPROFILE {kind}: ours {ms['ours']:.3f} ms/POST, bare {ms['bare']:.3f} ms/POST in "
            f"one process: in-process ceiling ours/bare = {ms['bare'] / ms['ours']:.2f}")
        if kind == "pg" and not args.keep:
            pg_recreate(args.pg, PG_DBS.values(), drop_only=True)


# --- main -----------------------------------------------------------------------------------

def _interrupt(*_):
    raise KeyboardInterrupt


def revision():
    """The commit measured, and whether the working tree differed from it (others edit it too)."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown revision"
    except OSError:
        return "unknown revision"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default="auto",
                    help="auto (sqlite, then pg if it answers), sqlite, pg or sqlite,pg")
    ap.add_argument("--pg", default=PG_DEFAULT,
                    help="PostgreSQL server URL (127.0.0.1 only; trust auth)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--serve", default="nginx,sync",
                    help="how both apps are served, one or more of " + ", ".join(SERVES)
                    + " (nginx: the README's production; sync: gunicorn alone)")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of uncounted load per app first")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir (logs, DBs) and the PostgreSQL databases")
    ap.add_argument("--profile", nargs="?", const="cprofile", choices=("cprofile", "pyinstrument"),
                    help="profile our POST path in-process instead of the HTTP benchmark")
    ap.add_argument("--profile-requests", type=int, default=2000)
    ap.add_argument("--profile-child", choices=("ours", "bare"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.profile_child:
        return profile_child(args.profile_child, args.profile_requests, args.profile)
    if not BASELINE.exists() or not BARE_LUA.exists():
        raise SystemExit(f"the baseline is missing: expected {BASELINE} and {BARE_LUA} "
                         "(shared/ checked out beside the repository)")
    if not args.profile and not os.access(WRK, os.X_OK):
        raise SystemExit(f"{WRK} not found: apt-get install wrk")
    if not 1 <= args.duration <= 600 or not 1 <= args.rounds <= 20:
        raise SystemExit("--duration must be 1..600 s and --rounds 1..20")  # bounded run time
    local_url(args.pg)
    serves = args.serve.split(",")
    if any(x not in SERVES for x in serves):
        raise SystemExit("--serve takes " + ", ".join(SERVES) + " (comma separated)")
    if SERVES.get(serves[0], {}).get("proxy") and not os.access(NGINX, os.X_OK):
        raise SystemExit(f"{NGINX} not found: apt-get install nginx")
    kinds = ["sqlite", "pg"] if args.db == "auto" else args.db.split(",")
    if any(k not in ("sqlite", "pg") for k in kinds):
        raise SystemExit("--db takes sqlite, pg, sqlite,pg or auto")
    if "pg" in kinds:
        ok, why = pg_available(args.pg)
        if not ok and args.db == "auto":
            log(f"PostgreSQL does not answer at {local_url(args.pg).host}: skipped ({why})")
            kinds.remove("pg")
        elif not ok:
            raise SystemExit(f"PostgreSQL does not answer at {args.pg}: {why}")
    # SIGTERM (CI cancelling us) unwinds like Ctrl-C, through the finally blocks that stop gunicorn.
    signal.signal(signal.SIGTERM, _interrupt)
    tmp = tempfile.mkdtemp(prefix="consent-bench-")
    failed = True
    try:
        if args.profile:
            profile(args, kinds, tmp)
            failed = False
            return 0
        log(f"consent-server {revision()}; gunicorn with {WORKERS} workers for both apps; "
            f"wrk -t1 -c{args.connections} -d{args.duration}s; {args.rounds} rounds; logs in {tmp}")
        results = []
        for kind in kinds:
            for serve in serves:
                log(f"\n== {kind}, {serve} ==")
                results.append(bench_db(kind, serve, args, tmp))
        failed = summary(results)
        return 1 if failed else 0
    finally:
        if args.keep or failed:
            log(f"kept {tmp} (logs, databases, acknowledged ids)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; gunicorn stopped")

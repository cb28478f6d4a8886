#!/usr/bin/env python3
"""The reliability suite: the release binary under the faults operators meet, each scenario with its pass criterion.

    python3 chaos/chaos.py [SCENARIO ...]     (just chaos; every scenario when none is named)

Scenarios: kill9-sqlite, kill9-postgres, postgres-restart, black-hole, stalled-listener, disk-full-sqlite.
Needs: the release binary (USERS_BIN, default target/release/users-server), PostgreSQL on 127.0.0.1:5432 with trust
auth for the PostgreSQL scenarios (CHAOS_PG, default postgres://postgres@127.0.0.1:5432), root for the restart, the
stalled listener (SIGSTOP of a backend) and the full disk (a tmpfs mount). Standard library only.
"""

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, nullcontext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("USERS_BIN", os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "users-server"))
PG = os.environ.get("CHAOS_PG", "postgres://postgres@127.0.0.1:5432")
PASSWORD = "correct horse battery staple"


# ---------------------------------------------------------------------------------------------------------------
# Helpers: HTTP, the server process, databases


def request(port, method, path, body=None, token=None, timeout=10.0):
    """(status, parsed JSON body or None, headers); status 0 when the connection failed, -1 when it timed out."""
    headers = {"content-type": "application/json"} if body is not None else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return response.status, parsed, dict(response.getheaders())
    except socket.timeout:
        return -1, None, {}
    except OSError:
        return 0, None, {}
    finally:
        connection.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A users-server process in a folder of its own."""

    def __init__(self, folder, database_url, port=None, extra_env=None):
        self.folder, self.database_url = folder, database_url
        self.port = port or free_port()
        self.extra_env = extra_env or {}
        self.process = None
        self.log = open(os.path.join(folder, "server.log"), "ab")

    def start(self, wait=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("USERS_") and k not in ("DATABASE_URL", "RUST_LOG")}
        env.update({"PORT": str(self.port), "DATABASE_URL": self.database_url, "RUST_LOG": "warn",
                    "JWT_KEYS_DIR": os.path.join(self.folder, "keys"),
                    # The suite sends many requests from one address.
                    "USERS__RATE_LIMIT__AUTH_PER_MINUTE": "0"})
        env.update(self.extra_env)
        self.process = subprocess.Popen([BINARY], cwd=self.folder, env=env, stdout=self.log, stderr=self.log)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, within=60):
        deadline = time.time() + within
        while time.time() < deadline:
            if request(self.port, "GET", "/health/ready", timeout=2)[0] == 200:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}); see {self.log.name}")
            time.sleep(0.1)
        raise RuntimeError(f"the server was not ready within {within} s; see {self.log.name}")

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill9()


def psql(sql, database="postgres"):
    url = PG.rstrip("/") + "/" + database
    done = subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    return done.stdout.strip()


@contextmanager
def postgres_database():
    name = "users_chaos_" + secrets.token_hex(4)
    psql(f"CREATE DATABASE {name}")
    try:
        yield name, PG.rstrip("/") + "/" + name
    finally:
        for _ in range(50):
            try:
                psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                break
            except RuntimeError:
                time.sleep(0.2)


@contextmanager
def folder(name):
    path = tempfile.mkdtemp(prefix=f"users-chaos-{name}-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def register(port, email, timeout=10.0):
    return request(port, "POST", "/auth/register", {"email": email, "password": PASSWORD}, timeout=timeout)


def sign_in(port, email):
    status, body, _ = request(port, "POST", "/auth/login", {"email": email, "password": PASSWORD})
    return body["access_token"] if status == 200 else None


def eventually(check, within, every=0.5):
    """Whether `check()` came true within `within` seconds, asked every `every` seconds."""
    deadline = time.time() + within
    while True:
        if check():
            return True
        if time.time() >= deadline:
            return False
        time.sleep(every)


class Workers:
    """Threads running `work(n)` until the `with` block ends; `join_within` bounds the wait for each at the end."""

    join_within = 15

    def __init__(self, count):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.work, args=(n,), daemon=True) for n in range(count)]

    def work(self, n):
        raise NotImplementedError

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=self.join_within)


class Verdict:
    def __init__(self, scenario, criterion):
        self.scenario, self.criterion, self.failures = scenario, criterion, []
        print(f"\n=== {scenario}\n    pass criterion: {criterion}", flush=True)

    def check(self, ok, what):
        print(f"    {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.failures.append(what)

    def passed(self):
        print(f"--- {self.scenario}: {'PASS' if not self.failures else 'FAIL'}", flush=True)
        return not self.failures


# ---------------------------------------------------------------------------------------------------------------
# kill -9 during writes


class Writers(Workers):
    """Threads that each own one account: they sign it up, then change its first name to 1, 2, 3... and remember
    what was acknowledged. Any status is tolerated while running; what was acknowledged must be stored."""

    def __init__(self, port, count):
        super().__init__(count)
        self.port = port
        self.acknowledged = {}  # email -> last acknowledged first name (0: only the sign-up)
        self.statuses = {}

    def work(self, n):
        email = f"writer{n}-{secrets.token_hex(3)}@example.com"
        status, body, _ = register(self.port, email)
        self.note(status)
        if status != 201:
            return
        with self.lock:
            self.acknowledged[email] = 0
        token, name = body["access_token"], 0
        while not self.stop.is_set():
            name += 1
            status, _, _ = request(self.port, "PUT", "/users/current", {"first_name": f"N{name}"}, token=token)
            self.note(status)
            if status == 200:
                with self.lock:
                    self.acknowledged[email] = name
            elif status in (0, -1):
                return

    def note(self, status):
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


def check_acknowledged(verdict, acknowledged, stored):
    """stored: email -> first name stored (None for no name). A write in flight at the kill may be stored too."""
    lost = [email for email in acknowledged if email not in stored]
    verdict.check(not lost, f"every acknowledged sign-up is stored ({len(acknowledged)} acknowledged, {len(lost)} lost)")
    stale = []
    for email, name in acknowledged.items():
        if email in stored and name > 0:
            kept = int((stored[email] or "N0")[1:])
            if kept not in (name, name + 1):
                stale.append((email, name, kept))
    verdict.check(not stale, f"every acknowledged profile change is stored ({len(stale)} lost: {stale[:3]})")


def kill9(store):
    verdict = Verdict(f"kill9-{store}", "after kill -9 during sign-ups and profile changes, and a restart, every "
                      "acknowledged write is there; the restarted server is ready")
    with folder(f"kill9-{store}") as path:
        with (postgres_database() if store == "postgres" else nullcontext(None)) as pg:
            url = pg[1] if pg else f"sqlite://{path}/users.db"
            server = Server(path, url).start()
            with Writers(server.port, 24) as writers:
                time.sleep(4)
                server.kill9()
            print(f"    statuses while running: {writers.statuses}")
            verdict.check(writers.statuses.get(500, 0) == 0, "no 500 before the kill")
            server.start()
            verdict.check(True, "restarted and ready")
            if pg:
                rows = psql("SELECT email, coalesce(first_name, '') FROM users", pg[0])
            else:
                import sqlite3
                with sqlite3.connect(f"{path}/users.db") as db:
                    rows = "\n".join(f"{e}|{n or ''}" for e, n in db.execute("SELECT email, first_name FROM users"))
            stored = {line.split("|")[0]: (line.split("|")[1] or None) for line in rows.splitlines() if line}
            check_acknowledged(verdict, writers.acknowledged, stored)
            server.stop()
    return verdict.passed()


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL restarted under traffic


class Traffic(Workers):
    """Threads reading the signed-in user and signing in again, recording every status with its time."""

    join_within = 40

    def __init__(self, port, token, email, threads=6):
        super().__init__(threads)
        self.port, self.token, self.email = port, token, email
        self.samples = []  # (time, status, seconds taken)

    def work(self, n):
        while not self.stop.is_set():
            started = time.time()
            if n == 0:
                status = request(self.port, "POST", "/auth/login", {"email": self.email, "password": PASSWORD}, timeout=30)[0]
            else:
                status = request(self.port, "GET", "/users/current", token=self.token, timeout=30)[0]
            with self.lock:
                self.samples.append((started, status, time.time() - started))
            time.sleep(0.01)

    def statuses(self, since=0.0):
        counts = {}
        for at, status, _ in self.samples:
            if at >= since:
                counts[status] = counts.get(status, 0) + 1
        return counts


def cluster():
    return sorted(os.listdir("/etc/postgresql"))[-1]


def postgres_restart():
    verdict = Verdict("postgres-restart", "while PostgreSQL restarts under traffic, requests get 503 (never 500, "
                      "never a hang past 10 s); within 10 s of its return every request succeeds and /health/ready is 200")
    with folder("pg-restart") as path, postgres_database() as (_, url):
        server = Server(path, url).start()
        email = "steady@example.com"
        token = register(server.port, email)[1]["access_token"]
        with Traffic(server.port, token, email) as traffic:
            time.sleep(2)
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster(), "main", "restart"], check=True)
            back = time.time()
            time.sleep(12)
        during = traffic.statuses()
        print(f"    statuses: {during}")
        verdict.check(during.get(500, 0) == 0, "no 500")
        slowest = max(taken for _, _, taken in traffic.samples)
        verdict.check(slowest < 10, f"no request hung (slowest {slowest:.1f} s)")
        after = traffic.statuses(since=back + 10)
        verdict.check(set(after) == {200}, f"all good 10 s after PostgreSQL came back: {after}")
        verdict.check(request(server.port, "GET", "/health/ready")[0] == 200, "ready")
        server.stop()
    return verdict.passed()


# ---------------------------------------------------------------------------------------------------------------
# A network path to PostgreSQL that stops forwarding


class Proxy:
    """A TCP proxy to PostgreSQL that can be frozen: it keeps its connections open but stops moving bytes, as a
    dropped network path does."""

    def __init__(self, target_port=5432):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    def pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def freeze(self):
        self.flowing.clear()

    def thaw(self):
        self.flowing.set()


def black_hole():
    verdict = Verdict("black-hole", "while the path to PostgreSQL forwards nothing, requests answer 503 within 10 s "
                      "and /health/ready 503 within 5 s; within 15 s of the path's return, requests succeed again")
    proxy = Proxy()
    with folder("black-hole") as path, postgres_database() as (name, _):
        url = f"postgres://postgres@127.0.0.1:{proxy.port}/{name}?sslmode=disable"
        server = Server(path, url).start()
        email = "steady@example.com"
        token = register(server.port, email)[1]["access_token"]
        proxy.freeze()
        started = time.time()
        status, _, headers = request(server.port, "GET", "/users/current", token=token, timeout=30)
        taken = time.time() - started
        # The signed-in cache may answer from memory for up to its maximum lag; a sign-in always needs the store.
        started = time.time()
        login = request(server.port, "POST", "/auth/login", {"email": email, "password": PASSWORD}, timeout=30)
        login_taken = time.time() - started
        verdict.check(login[0] == 503 and login_taken < 10, f"a sign-in answers {login[0]} in {login_taken:.1f} s")
        verdict.check(status in (200, 503) and taken < 10, f"a read answers {status} in {taken:.1f} s")
        started = time.time()
        ready = request(server.port, "GET", "/health/ready", timeout=30)[0]
        ready_taken = time.time() - started
        verdict.check(ready == 503 and ready_taken < 5, f"/health/ready answers {ready} in {ready_taken:.1f} s")
        proxy.thaw()
        signs_in = lambda: request(server.port, "POST", "/auth/login", {"email": email, "password": PASSWORD})[0] == 200
        verdict.check(eventually(signs_in, within=15), "sign-ins succeed again once the path forwards")
        server.stop()
    return verdict.passed()


# ---------------------------------------------------------------------------------------------------------------
# A stalled change-feed listener


def listener_pid(database, within=10):
    """The backend of the one server's change-feed connection on `database` (it names itself)."""
    sql = (f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}' "
           "AND application_name = 'users-change-listener'")
    deadline = time.time() + within
    while time.time() < deadline:
        pid = psql(sql)
        if pid:
            return pid
        time.sleep(0.1)
    return ""


def stalled_listener():
    verdict = Verdict("stalled-listener", "with instance A's change-feed connection stopped (SIGSTOP), a session "
                      "ended through instance B stops working on A within 1.5 s (change_feed_max_lag_ms 1000 + margin)")
    with folder("stalled-a") as a_path, folder("stalled-b") as b_path, postgres_database() as (name, url):
        keys = os.path.join(a_path, "keys")
        a = Server(a_path, url).start()
        pid = listener_pid(name)  # before B starts its own
        shutil.copytree(keys, os.path.join(b_path, "keys"))
        b = Server(b_path, url).start()
        body = register(a.port, "stalled@example.com")[1]
        token = body["access_token"]
        for _ in range(3):
            request(a.port, "GET", "/users/current", token=token)  # A remembers the signed-in user
        verdict.check(bool(pid), f"found A's listener backend ({pid})")
        if pid:
            os.kill(int(pid), signal.SIGSTOP)
            try:
                status = request(b.port, "POST", "/auth/logout", {"refresh_token": body["refresh_token"]})[0]
                verdict.check(status == 204, f"signed out through B ({status})")
                ended, deadline = time.time(), time.time() + 10
                while time.time() < deadline:
                    if request(a.port, "GET", "/users/current", token=token, timeout=5)[0] == 401:
                        break
                    time.sleep(0.05)
                taken = time.time() - ended
                verdict.check(taken < 1.5, f"A refused the ended session after {taken:.2f} s")
            finally:
                os.kill(int(pid), signal.SIGCONT)
        a.stop()
        b.stop()
    return verdict.passed()


# ---------------------------------------------------------------------------------------------------------------
# A full disk under SQLite


def disk_full_sqlite():
    verdict = Verdict("disk-full-sqlite", "on a full disk, writes answer 503 with Retry-After (never 500) and "
                      "/health/ready says 503; once space is freed writes succeed again, and after a restart every "
                      "acknowledged sign-up is there")
    with folder("disk-full") as path:
        disk = os.path.join(path, "disk")
        os.makedirs(disk)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", disk], check=True)
        try:
            server = Server(path, f"sqlite://{disk}/users.db").start()
            acknowledged = []
            for n in range(3):
                email = f"before{n}@example.com"
                if register(server.port, email)[0] == 201:
                    acknowledged.append(email)
            filler = os.path.join(disk, "filler")
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            statuses, retry_after = {}, True
            for n in range(200):
                email = f"full{n}@example.com"
                status, _, headers = register(server.port, email)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 201:
                    acknowledged.append(email)
                if status == 503:
                    retry_after &= "retry-after" in {k.lower() for k in headers}
                    if statuses[503] >= 5:
                        break
            print(f"    sign-ups on the full disk: {statuses}")
            verdict.check(statuses.get(500, 0) == 0, "no 500")
            verdict.check(statuses.get(503, 0) > 0 and retry_after, "503 with Retry-After")
            ready = request(server.port, "GET", "/health/ready")
            verdict.check(ready[0] == 503, f"/health/ready answers {ready[0]}: {ready[1]}")
            os.remove(filler)
            signs_up = lambda: register(server.port, f"after{secrets.token_hex(3)}@example.com")[0] == 201
            verdict.check(eventually(signs_up, within=15), "a sign-up succeeds once space is freed")
            # The store is reported not ready for 10 s after its last refused write.
            ready = lambda: request(server.port, "GET", "/health/ready")[0] == 200
            verdict.check(eventually(ready, within=15), "ready again within 15 s")
            server.kill9()
            server.start()
            kept = [email for email in acknowledged if sign_in(server.port, email)]
            verdict.check(len(kept) == len(acknowledged), f"{len(kept)} of {len(acknowledged)} acknowledged sign-ups kept")
            server.stop()
        finally:
            subprocess.run(["umount", "-l", disk])
    return verdict.passed()


SCENARIOS = {
    "kill9-sqlite": lambda: kill9("sqlite"),
    "kill9-postgres": lambda: kill9("postgres"),
    "postgres-restart": postgres_restart,
    "black-hole": black_hole,
    "stalled-listener": stalled_listener,
    "disk-full-sqlite": disk_full_sqlite,
}


def main(names):
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    if not os.access(BINARY, os.X_OK):
        sys.exit(f"no binary at {BINARY}: cargo build --release -p users-server (or set USERS_BIN)")
    results = {}
    for name in names or SCENARIOS:
        try:
            results[name] = SCENARIOS[name]()
        except Exception as error:  # a scenario that cannot run is a failure, said as such
            print(f"--- {name}: FAIL ({type(error).__name__}: {error})", flush=True)
            results[name] = False
    print("\n" + "\n".join(f"{'PASS' if ok else 'FAIL'}  {name}" for name, ok in results.items()))
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main(sys.argv[1:])

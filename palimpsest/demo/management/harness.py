"""What the demo scenario plays the journey with: HTTP actors on the real URL map (in this process, so the
e-mails the web side sends land in this process's outbox), the outbox itself, and a worker of its own
when none answers."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client

from palimpsest.celery import app

ROOT = Path(__file__).resolve().parents[3]
CODE = re.compile(r"\b(\d{6})\b")
QUEUES = "cpu,gpu,eval"


class ScenarioError(Exception):
    """A step of the journey did not do what a user would expect; the message says which."""

    seconds: dict[str, float] = {}  # time per stage until it failed, set by run_scenario


def _host() -> str:
    """A host name the site accepts (django.test.Client's own 'testserver' is refused outside tests)."""
    site = urlparse(settings.SITE_URL).hostname or ""
    hosts = [h for h in settings.ALLOWED_HOSTS if h and not h.startswith((".", "*"))]
    if site and (site in hosts or "*" in settings.ALLOWED_HOSTS):
        return site
    if not hosts:
        raise ScenarioError("ALLOWED_HOSTS names no host the scenario could call the site by.")
    return hosts[0]


def browser(address: str) -> Client:
    """One visitor: its own client address, so rate limits count each demo person on their own."""
    return Client(HTTP_HOST=_host(), REMOTE_ADDR=address, secure=settings.SITE_URL.startswith("https://"))


def staff(username: str, password: str) -> Client:
    client = browser("192.0.2.10")
    if not client.login(username=username, password=password):
        raise ScenarioError(
            f"The demo account {username!r} could not sign in: run `manage.py seed_demo_users` first."
        )
    return client


def expect(response, status: int, what: str):
    """The response's JSON (or the response) when its status is the one expected; else a ScenarioError."""
    if response.status_code != status:
        body = response.content[:300].decode(errors="replace")
        raise ScenarioError(f"{what}: HTTP {response.status_code} (expected {status}): {body}")
    if response.get("Content-Type", "").startswith("application/json"):
        return response.json()
    return response


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    body: str


def _text_body(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


class Outbox:
    """The e-mails sent so far: Django's local-memory outbox, or the files of the file-based backend."""

    def __init__(self):
        backend = settings.EMAIL_BACKEND
        if backend.endswith("locmem.EmailBackend"):
            self.folder = None
        elif backend.endswith("filebased.EmailBackend"):
            self.folder = Path(settings.EMAIL_FILE_PATH)
        else:
            raise ScenarioError(
                f"The scenario reads confirmation codes from the outbox; {backend} keeps none. Use the "
                "file-based backend (the embedded default) or the local-memory one."
            )

    def messages(self) -> dict[tuple[str, int], Mail]:
        """Every message by a key that stays its own as more are sent (file, position in the file)."""
        if self.folder is None:
            sent = getattr(mail, "outbox", [])
            return {("locmem", i): Mail(list(m.to), m.subject, m.body) for i, m in enumerate(sent)}
        found = {}
        for path in sorted(self.folder.glob("*.log")):
            # The file-based backend writes each message followed by a line of 79 dashes.
            chunks = path.read_text(encoding="utf-8", errors="replace").split("\n" + "-" * 79 + "\n")
            for i, chunk in enumerate(c for c in chunks if c.strip()):
                message = email.message_from_string(chunk)
                to = [a.strip() for a in (message.get("To") or "").split(",") if a.strip()]
                found[(path.name, i)] = Mail(to, str(message.get("Subject", "")), _text_body(message))
        return found

    def mark(self) -> set[tuple[str, int]]:
        return set(self.messages())

    def to(self, address: str, *, since: set | None = None) -> list[Mail]:
        """The messages to `address`, leaving out those already there at `since` (a `mark()`)."""
        seen = since or set()
        return [m for key, m in self.messages().items() if key not in seen and address in m.to]

    def code_for(self, address: str, *, since: set, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.to(address, since=since):
                found = CODE.search(message.body)
                if found and "confirm" in message.subject.lower():
                    return found.group(1)
            time.sleep(0.2)
        raise ScenarioError("No confirmation code reached the outbox within 30 s.")


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def workers_answering() -> list[str]:
    return [host for reply in app.control.ping(timeout=2.0) for host in reply]


@dataclass
class OwnWorker:
    """A `celery worker` on every queue, started for one run because none answered; stopped after it."""

    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 120.0) -> None:
        hostname = f"scenario-{os.getpid()}"
        # One torch thread unless told otherwise: on a small shared machine a second intra-op thread only
        # contends (the test suite measured steps 40x slower with two under load).
        env = {
            "OMP_NUM_THREADS": "1",
            **os.environ,
            **self.extra_env,
            "DATABASE_URL": _database_url(),
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "palimpsest.settings"),
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "palimpsest.celery", "worker"),
                    *("-Q", QUEUES, "--pool", "solo", "--concurrency", "1", "--loglevel", "INFO"),
                    *("--without-mingle", "--without-gossip", "--hostname", f"{hostname}@%h"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ScenarioError(f"The scenario's worker exited at start; see {self.log_path}.")
            if any(host.startswith(f"{hostname}@") for host in workers_answering()):
                return
        raise ScenarioError(
            f"The scenario's worker did not answer a ping in {timeout:.0f} s; see {self.log_path}."
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

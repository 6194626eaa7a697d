"""A real nginx (Debian's package, installed by `make nginx`) on a free
loopback port, everything of its own in one directory: nginx.conf, the
htpasswd file, the pid file, the logs and the temp directories. One
location, `/private/`, behind `auth_basic "Restricted"`, as nginx's docs
write it. Started in the foreground (`daemon off`), waited for (bounded),
and stopped by its PID when the context ends. Fails the test when there is
no nginx binary (and says how to get one): the tests that use it carry
`needs("nginx")`, skipped where make could not install it."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["NGINX_PASSWORD", "NGINX_USER", "Nginx", "find_nginx", "running_nginx"]

NGINX_USER = "audit"
NGINX_PASSWORD = "nginx-pw-not-a-secret"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.05

_CONF = """\
{user}daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        location /private/ {{
            auth_basic "Restricted";
            auth_basic_user_file {dir}/htpasswd;
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    """nginx on PATH, else Debian's /usr/sbin/nginx (not on a user's PATH)."""
    for found in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if found and os.path.isfile(found) and os.access(found, os.X_OK):
            return found
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Nginx:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _write(directory: Path, port: int) -> Path:
    (directory / "tmp").mkdir()
    (directory / "www" / "private").mkdir(parents=True)
    (directory / "www" / "private" / "index.html").write_text("the private page\n")
    # nginx reads {PLAIN} passwords as they are (no crypt, no openssl needed).
    (directory / "htpasswd").write_text(f"{NGINX_USER}:{{PLAIN}}{NGINX_PASSWORD}\n")
    user = ""
    if os.geteuid() == 0:
        # As root the master would hand its workers to `nobody`, who cannot read
        # this directory: keep them as the current user.
        user = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};\n"
    conf = directory / "nginx.conf"
    conf.write_text(_CONF.format(user=user, dir=directory, port=port))
    return conf


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # SIGTERM: nginx's fast shutdown, workers included
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def running_nginx(directory: Path) -> Iterator[Nginx]:
    binary = find_nginx()
    if binary is None:
        # Missing where make's preflight did not record it as not installable
        # here (tests/needs.py skips it then): a failure, never a quiet skip.
        pytest.fail("nginx is not installed (`make nginx` installs Debian's package)")
    port = _free_port()
    conf = _write(directory, port)
    # -e: the error log before the configuration is read (not /var/log/nginx).
    command = [binary, "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")]
    with (directory / "stderr").open("wb") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
    server = Nginx(directory, port, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = (directory / "stderr").read_text(errors="replace")
                raise RuntimeError(f"nginx did not start:\n{stderr}{server.error_log()}")
            time.sleep(_POLL_S)
        yield server
    finally:
        _stop(process)

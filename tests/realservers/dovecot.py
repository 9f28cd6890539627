"""Debian's real ``dovecot-imapd``, started by a test on a loopback port with a throwaway config.

``tests/realservers/ensure_debian.sh dovecot dovecot-imapd /usr/sbin/dovecot``
installs it (CI); when it cannot, it writes the reason to
``test-artifacts/dovecot-unavailable.txt`` and :func:`dovecot_or_skip` skips
with that reason.

Usage::

    binary = dovecot_or_skip()
    with running_dovecot(binary) as server:          # tls=True: STARTTLS + IMAPS
        uid = server.append(raw_bytes)
        ...                                          # ImapSettings(**server.settings())
        assert "$SlaTicket" in server.flags()[uid]

The server runs in the foreground (``dovecot -c CONF -F``) with everything
in a temporary directory: config, ``base_dir``, ``state_dir``, log file and
one Maildir user (``passwd-file`` passdb, ``static`` userdb). Run as root
(CI), dovecot's own system users do the work: ``dovecot`` (internal
processes and, here, the mail user, since dovecot refuses uid 0 for mail)
and ``dovenull`` (the login process, which refuses to run as root). Run as
another user, every process runs as that user without chroot.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imapclient  # type: ignore[import-untyped]
import pytest

REPO = Path(__file__).resolve().parents[2]
UNAVAILABLE = REPO / "test-artifacts" / "dovecot-unavailable.txt"
DEFAULT_BINARY = "/usr/sbin/dovecot"
START_TIMEOUT = 15.0


def find_dovecot() -> str | None:
    """``$SLA_DOVECOT`` if set and executable, else Debian's ``/usr/sbin/dovecot``."""
    for candidate in (os.environ.get("SLA_DOVECOT"), DEFAULT_BINARY):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def dovecot_version(binary: str) -> str:
    """``dovecot --version``, e.g. ``2.3.19.1 (9b53102964)``."""
    done = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout.strip()


def dovecot_or_skip() -> str:
    """The dovecot binary, or a pytest skip with the reason the setup step recorded.

    Only dovecot 2.3 (Debian 12) is supported: 2.4 rewrote the configuration syntax.
    """
    binary = find_dovecot()
    if binary is None:
        why = (
            UNAVAILABLE.read_text(encoding="utf-8").strip()
            if UNAVAILABLE.exists()
            else f"{DEFAULT_BINARY} is missing; run `bash tests/realservers/ensure_debian.sh "
            "dovecot dovecot-imapd /usr/sbin/dovecot`"
        )
        pytest.skip(f"no dovecot for the IMAP tests: {why}")
    version = dovecot_version(binary)
    if not version.startswith("2.3."):
        pytest.skip(f"dovecot {version or '(unknown version)'}: this helper writes 2.3 configs")
    return binary


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Dovecot:
    """A running dovecot: where it listens, who may log in, and a few helpers.

    Attributes:
        host: ``127.0.0.1``.
        port: The IMAP port (STARTTLS offered when ``ca_file`` is set).
        tls_port: The IMAPS port (implicit TLS), or ``None`` without TLS.
        user: The one mailbox user.
        password: Its password.
        ca_file: The CA that signed the server certificate, or ``None`` without TLS.
        workdir: Config, sockets, state, log and mail.
    """

    host: str
    port: int
    tls_port: int | None
    user: str
    password: str
    ca_file: Path | None
    workdir: Path
    process: subprocess.Popen[bytes]
    version: str

    @property
    def log_path(self) -> Path:
        return self.workdir / "dovecot.log"

    def log(self) -> str:
        """The server's log so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log written)"

    def settings(self, *, tls: bool = False) -> dict[str, Any]:
        """Keyword arguments for ``service.mailbox.ImapSettings`` (plain, or implicit TLS)."""
        if tls:
            assert self.tls_port is not None, "started without tls=True"
            return {
                "host": self.host,
                "port": self.tls_port,
                "user": self.user,
                "password": self.password,
                "tls": True,
                "ca_file": self.ca_file,
                "timeout": 10.0,
            }
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "tls": False,
            "ca_file": self.ca_file,
            "timeout": 10.0,
        }

    def client(self, *, readonly: bool = False) -> imapclient.IMAPClient:
        """A logged-in client (plain text, loopback) with INBOX selected; log out after use."""
        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        client.select_folder("INBOX", readonly=readonly)
        return client

    def append(
        self, raw: bytes, *, flags: Sequence[str] = (), received: dt.datetime | None = None
    ) -> int:
        """IMAP APPEND ``raw`` to INBOX; returns the new message's UID.

        Args:
            raw: The message.
            flags: Flags to set at once (e.g. ``\\Seen``).
            received: The internal date (arrival time); now when not given.
        """
        client = self.client()
        try:
            answer = client.append("INBOX", raw, flags=tuple(flags), msg_time=received)
        finally:
            client.logout()
        found = re.search(rb"APPENDUID \d+ (\d+)", answer)
        assert found is not None, f"no APPENDUID in {answer!r}"
        return int(found.group(1))

    def flags(self) -> dict[int, frozenset[str]]:
        """Flags and keywords of every message in INBOX, by UID (read-only, sets nothing)."""
        client = self.client(readonly=True)
        try:
            uids = client.search(["ALL"])
            fetched = client.get_flags(uids) if uids else {}
        finally:
            client.logout()
        return {
            int(uid): frozenset(f.decode() if isinstance(f, bytes) else str(f) for f in flags)
            for uid, flags in fetched.items()
        }

    def kick(self) -> None:
        """Close every IMAP session of the user (``doveadm kick``), as a server restart would."""
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        subprocess.run(
            [doveadm, "-c", str(self.workdir / "dovecot.conf"), "kick", self.user],
            capture_output=True,
            timeout=10,
            check=True,
        )

    def stop(self) -> None:
        """SIGTERM to the master (it stops its children), SIGKILL to the group after 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # start_new_session: the group is this dovecot and its children only.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@contextlib.contextmanager
def running_dovecot(binary: str, *, tls: bool = False, user: str = "support") -> Iterator[Dovecot]:
    """Start dovecot in a fresh temporary directory; stop it and remove everything after.

    The log is printed at teardown (pytest shows it for a failed test) and
    whenever the start fails.

    Args:
        binary: From :func:`dovecot_or_skip`.
        tls: Also serve TLS: STARTTLS on ``port`` and implicit TLS on
            ``tls_port``, with a certificate for ``localhost``/``127.0.0.1``
            signed by a throwaway CA (``ca_file``).
        user: The mailbox user's name.
    """
    workdir = Path(tempfile.mkdtemp(prefix="sla-dovecot-"))
    server: Dovecot | None = None
    try:
        server = _start(binary, workdir, tls=tls, user=user)
        yield server
    finally:
        if server is not None:
            server.stop()
            log = server.log()
            print(f"--- dovecot log ({server.version}) ---\n{log[-20_000:]}", file=sys.stdout)
        shutil.rmtree(workdir, ignore_errors=True)


def _start(binary: str, workdir: Path, *, tls: bool, user: str) -> Dovecot:
    version = dovecot_version(binary)
    password = secrets.token_urlsafe(12)
    as_root = os.geteuid() == 0
    if as_root:
        # dovecot's system users must reach into the (0700) temporary directory.
        os.chmod(workdir, 0o711)
        internal = pwd.getpwnam("dovecot")
        login_user = "dovenull"
        mail_uid, mail_gid = internal.pw_uid, internal.pw_gid
    else:
        internal = pwd.getpwuid(os.geteuid())
        login_user = internal.pw_name
        mail_uid, mail_gid = os.geteuid(), os.getegid()
    internal_group = grp.getgrgid(internal.pw_gid).gr_name

    mail = workdir / "mail"
    mail.mkdir()
    users = workdir / "users"
    users.write_text(f"{user}:{{PLAIN}}{password}\n", encoding="utf-8")
    if as_root:
        os.chown(mail, mail_uid, mail_gid)
        os.chown(users, 0, internal.pw_gid)  # the auth process runs as "dovecot"
        os.chmod(users, 0o640)

    ca_file = _make_certificates(workdir) if tls else None
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        tls_port = free_port() if tls else None
        config = workdir / "dovecot.conf"
        config.write_text(
            _config(
                workdir,
                port=port,
                tls_port=tls_port,
                internal_user=internal.pw_name,
                internal_group=internal_group,
                login_user=login_user,
                mail_uid=mail_uid,
                mail_gid=mail_gid,
                as_root=as_root,
            ),
            encoding="utf-8",
        )
        with open(workdir / "dovecot.stderr", "wb") as stderr:
            process = subprocess.Popen(
                [binary, "-c", str(config), "-F"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        server = Dovecot(
            "127.0.0.1", port, tls_port, user, password, ca_file, workdir, process, version
        )
        try:
            _wait_for_greeting(server)
            if tls_port is not None:
                _wait_for_port(server, tls_port)
            return server
        except RuntimeError as exc:
            server.stop()
            last_error = f"{exc}\n--- dovecot log ---\n{server.log()}\n--- stderr ---\n" + (
                workdir / "dovecot.stderr"
            ).read_text(errors="replace")
            if "in use" not in last_error:
                break  # only a port taken meanwhile is worth another try
    print(last_error, file=sys.stderr)
    raise RuntimeError(f"dovecot did not start: {last_error.splitlines()[0]}")


def _config(
    workdir: Path,
    *,
    port: int,
    tls_port: int | None,
    internal_user: str,
    internal_group: str,
    login_user: str,
    mail_uid: int,
    mail_gid: int,
    as_root: bool,
) -> str:
    w = workdir
    tls = tls_port is not None
    no_chroot = "" if as_root else "  chroot =\n"
    imaps = (
        f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {tls_port}\n"
        "    ssl = yes\n  }\n"
        if tls
        else "  inet_listener imaps {\n    port = 0\n  }\n"
    )
    lines = f"""\
# Throwaway dovecot {{2.3}} config written by tests/realservers/dovecot.py.
instance_name = sla-test-{w.name}
base_dir = {w}/run
state_dir = {w}/state
protocols = imap
listen = 127.0.0.1
log_path = {w}/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S "
auth_verbose = yes
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
auth_mechanisms = plain login
# Plain-text login is fine here: loopback only, throwaway password.
disable_plaintext_auth = no
ssl = {"yes" if tls else "no"}
{f"ssl_cert = <{w}/server.pem" if tls else ""}
{f"ssl_key = <{w}/server.key" if tls else ""}
mail_location = maildir:{w}/mail/%u/Maildir
# Tests care for speed, not for surviving a power cut.
mail_fsync = never
# IDLE tells about new mail within a second even without inotify.
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {w}/users
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={w}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
{imaps}{no_chroot}}}
service anvil {{
{no_chroot}}}
"""
    return lines


def _wait_for_greeting(server: Dovecot) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"dovecot exited with {server.process.returncode}")
        try:
            with socket.create_connection((server.host, server.port), timeout=2) as conn:
                greeting = conn.recv(1024)
            if greeting.startswith(b"* OK"):
                return
            last = greeting.decode(errors="replace")
        except OSError as exc:
            last = str(exc)
        time.sleep(0.05)
    raise RuntimeError(f"no IMAP greeting on port {server.port} within {START_TIMEOUT} s ({last})")


def _wait_for_port(server: Dovecot, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((server.host, port), 2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} (IMAPS) not listening within {START_TIMEOUT} s")


def _make_certificates(workdir: Path) -> Path:
    """A throwaway CA (``ca.pem``) and a server certificate for localhost/127.0.0.1 it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sla test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = workdir / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (workdir / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = workdir / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return ca_file

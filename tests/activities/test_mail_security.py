"""SMTP never sends the password in clear text, and never shows it (issue 14).

The decisions are tested as a function; the deliveries against a real SMTP
server (aiosmtpd) on a loopback port: one without STARTTLS that must never see
the login, one with STARTTLS (a throwaway CA made here) that must see it only
after the TLS upgrade, and a loopback relay without TLS.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from temporalio.exceptions import ApplicationError

import activities.mail as mail
from activities.mail import (
    InsecureSmtpConfigError,
    SmtpMailer,
    is_loopback_host,
    smtp_mailer_from_env,
    use_starttls,
)

PASSWORD = "hunter2-Geheim!"
USER = "support@myconvento.com"


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = USER
    msg["To"] = "erika@beispiel-versand.de"
    msg["Subject"] = "Störungsmeldung"
    msg["Message-ID"] = "<INC-1.receipt@myconvento.com>"
    msg.set_content("Ihre Meldung ist eingegangen.")
    return msg


# -- the password hides itself --------------------------------------------------------


def test_password_is_in_no_repr_str_or_asdict(caplog: pytest.LogCaptureFixture) -> None:
    mailer = SmtpMailer(host="smtp.example.org", port=587, user=USER, password=PASSWORD)
    from_env = smtp_mailer_from_env(
        {
            "SLA_SMTP_HOST": "smtp.example.org",
            "SLA_SMTP_PORT": "587",
            "SLA_SMTP_USER": USER,
            "SLA_SMTP_PASSWORD": PASSWORD,
        }
    )
    assert from_env == mailer
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("mailer %s / %r", mailer, mailer)
    for shown in (repr(mailer), str(mailer), str(dataclasses.asdict(mailer)), caplog.text):
        assert PASSWORD not in shown
        assert "hunter2" not in shown
    assert "smtp.example.org" in repr(mailer)  # the rest is still there to read


def test_a_refusal_does_not_show_the_password() -> None:
    with pytest.raises(InsecureSmtpConfigError) as refused:
        SmtpMailer(host="smtp.example.org", user=USER, password=PASSWORD, starttls=False)
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in repr(refused.value)


# -- the decision -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password_set", "starttls", "expected"),
    [
        (True, None, True),  # the default with a password: TLS
        (False, None, False),  # no password, nothing to protect: as before
        (True, True, True),
        (False, True, True),
        (False, False, False),
    ],
)
def test_starttls_decision(password_set: bool, starttls: bool | None, expected: bool) -> None:
    host = "smtp.example.org"
    assert use_starttls(host, password_set=password_set, starttls=starttls) is expected


NOT_LOOPBACK = ["smtp.example.org", "192.0.2.10", "10.0.0.1", "localhost.example.org", "::2", "vm"]
LOOPBACK = ["127.0.0.1", "127.0.0.53", "localhost", "LocalHost.", "::1", "[::1]"]


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_explicit_no_tls_with_password_is_refused_for_other_hosts(host: str) -> None:
    with pytest.raises(InsecureSmtpConfigError, match="clear text") as refused:
        use_starttls(host, password_set=True, starttls=False)
    assert "SLA_SMTP_STARTTLS" in str(refused.value)
    with pytest.raises(InsecureSmtpConfigError):
        SmtpMailer(host=host, user=USER, password=PASSWORD, starttls=False)
    with pytest.raises(InsecureSmtpConfigError):
        smtp_mailer_from_env(
            {
                "SLA_SMTP_HOST": host,
                "SLA_SMTP_USER": USER,
                "SLA_SMTP_PASSWORD": PASSWORD,
                "SLA_SMTP_STARTTLS": "false",
            }
        )


@pytest.mark.parametrize("host", LOOPBACK)
def test_explicit_no_tls_with_password_is_allowed_for_a_loopback_relay(host: str) -> None:
    assert is_loopback_host(host)
    assert use_starttls(host, password_set=True, starttls=False) is False
    mailer = SmtpMailer(host=host, user=USER, password=PASSWORD, starttls=False)
    assert not mailer.uses_starttls


def test_loopback_is_read_from_the_configuration_not_from_dns() -> None:
    name = socket.gethostname()
    if name.lower() != "localhost":
        assert not is_loopback_host(name)  # it may resolve to 127.0.x.x: not trusted
    assert not is_loopback_host("localhost.evil.example")


def test_port_465_is_implicit_tls() -> None:
    mailer = SmtpMailer(host="smtp.example.org", port=465, user=USER, password=PASSWORD)
    assert mailer.implicit_tls
    assert not mailer.uses_starttls  # TLS from the first byte: nothing to upgrade
    with pytest.raises(InsecureSmtpConfigError, match="implicit TLS"):
        SmtpMailer(host="smtp.example.org", port=465, starttls=True)
    assert SmtpMailer(host="smtp.example.org", port=465, starttls=False).implicit_tls


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, True),
        ("", True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
    ],
)
def test_env_starttls_with_password(text: str | None, expected: bool) -> None:
    env = {"SLA_SMTP_HOST": "smtp.example.org", "SLA_SMTP_PASSWORD": PASSWORD}
    if text is not None:
        env["SLA_SMTP_STARTTLS"] = text
    mailer = smtp_mailer_from_env(env)
    assert mailer is not None
    assert mailer.uses_starttls is expected


@pytest.mark.parametrize("text", ["false", "0", "no", "off", "False"])
def test_env_starttls_off_is_read_as_off(text: str) -> None:
    for host, password in (("smtp.example.org", None), ("127.0.0.1", PASSWORD)):
        env = {"SLA_SMTP_HOST": host, "SLA_SMTP_STARTTLS": text}
        if password:
            env["SLA_SMTP_PASSWORD"] = password
        mailer = smtp_mailer_from_env(env)
        assert mailer is not None
        assert not mailer.uses_starttls


def test_env_errors() -> None:
    assert smtp_mailer_from_env({}) is None
    assert smtp_mailer_from_env({"SLA_SMTP_HOST": " "}) is None
    with pytest.raises(ValueError, match="SLA_SMTP_STARTTLS must be true or false"):
        smtp_mailer_from_env({"SLA_SMTP_HOST": "smtp.example.org", "SLA_SMTP_STARTTLS": "maybe"})
    for port in ("smtp", "0", "70000"):
        with pytest.raises(ValueError, match="SLA_SMTP_PORT"):
            smtp_mailer_from_env({"SLA_SMTP_HOST": "smtp.example.org", "SLA_SMTP_PORT": port})
    mailer = smtp_mailer_from_env({"SLA_SMTP_HOST": "mailpit", "SLA_SMTP_PORT": "1025"})
    assert mailer == SmtpMailer(host="mailpit", port=1025)
    assert not mailer.uses_starttls  # no password: Mailpit without TLS as before


# -- against a real SMTP server -----------------------------------------------------------


@dataclass
class Seen:
    """What the server saw: every AUTH attempt (with or without TLS) and every delivery."""

    auth_commands: list[bool] = field(default_factory=list)  # TLS active when AUTH came
    logins: list[tuple[str, str, bool]] = field(default_factory=list)
    starttls: int = 0
    deliveries: list[Envelope] = field(default_factory=list)


class RecordingSMTP(SMTP):
    seen: Seen

    async def smtp_AUTH(self, arg: str) -> None:
        assert self.session is not None
        self.seen.auth_commands.append(self.session.ssl is not None)
        await super().smtp_AUTH(arg)

    async def smtp_STARTTLS(self, arg: str) -> None:
        self.seen.starttls += 1
        await super().smtp_STARTTLS(arg)


class Handler:
    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.seen.deliveries.append(envelope)
        return "250 2.0.0 queued"


@dataclass
class Server:
    host: str
    port: int
    seen: Seen


StartServer = Callable[..., Any]


@pytest.fixture
async def smtp_server() -> AsyncIterator[StartServer]:
    """Start aiosmtpd servers in the test's loop; the mailer talks to them from a thread."""
    servers: list[asyncio.Server] = []

    async def start(
        *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None, auth_require_tls: bool = True
    ) -> Server:
        seen = Seen()

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            assert isinstance(data, LoginPassword)
            login, password = data.login.decode(), data.password.decode()
            seen.logins.append((login, password, session.ssl is not None))
            return AuthResult(success=(login, password) == (USER, PASSWORD))

        def protocol() -> RecordingSMTP:
            smtp = RecordingSMTP(
                Handler(seen),
                hostname="smtp.test",
                tls_context=tls,
                authenticator=authenticate,
                auth_require_tls=auth_require_tls,
            )
            smtp.seen = seen
            return smtp

        server = await asyncio.get_running_loop().create_server(protocol, host, 0)
        servers.append(server)
        return Server(host, server.sockets[0].getsockname()[1], seen)

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_plain_server_without_starttls_never_sees_the_password(
    smtp_server: StartServer,
) -> None:
    # The server would even accept AUTH in clear text: the client must not try.
    server = await smtp_server(auth_require_tls=False)
    mailer = SmtpMailer(host="127.0.0.1", port=server.port, user=USER, password=PASSWORD, timeout=5)
    with pytest.raises(ApplicationError) as refused:
        await mailer.send(message())
    assert refused.value.non_retryable
    assert refused.value.type == "SmtpConfigurationError"
    assert "STARTTLS" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert server.seen.auth_commands == []
    assert server.seen.logins == []
    assert server.seen.deliveries == []


async def test_plain_server_under_a_non_loopback_name_never_sees_the_password(
    smtp_server: StartServer,
) -> None:
    """The machine's own name: not loopback-looking in the configuration, yet local."""
    name = socket.gethostname()
    if is_loopback_host(name):
        pytest.skip(f"this machine is called {name!r}")
    try:
        address = socket.gethostbyname(name)
    except OSError:
        pytest.skip(f"the host name {name!r} does not resolve here")
    server = await smtp_server(host=address, auth_require_tls=False)
    # Off explicitly: refused before any connection.
    with pytest.raises(InsecureSmtpConfigError):
        SmtpMailer(host=name, port=server.port, user=USER, password=PASSWORD, starttls=False)
    # The default: STARTTLS, which this server lacks, so no login either.
    mailer = SmtpMailer(host=name, port=server.port, user=USER, password=PASSWORD, timeout=5)
    with pytest.raises(ApplicationError, match="STARTTLS"):
        await mailer.send(message())
    assert server.seen.auth_commands == []
    assert server.seen.deliveries == []


async def test_loopback_relay_without_tls_gets_the_login_and_the_message(
    smtp_server: StartServer,
) -> None:
    server = await smtp_server(auth_require_tls=False)
    mailer = smtp_mailer_from_env(
        {
            "SLA_SMTP_HOST": "127.0.0.1",
            "SLA_SMTP_PORT": str(server.port),
            "SLA_SMTP_USER": USER,
            "SLA_SMTP_PASSWORD": PASSWORD,
            "SLA_SMTP_STARTTLS": "false",
        }
    )
    assert mailer is not None
    report = await mailer.send(message())
    assert report.where == f"smtp://127.0.0.1:{server.port}"
    assert server.seen.logins == [(USER, PASSWORD, False)]
    (delivery,) = server.seen.deliveries
    assert delivery.rcpt_tos == ["erika@beispiel-versand.de"]


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A throwaway self-signed certificate for 127.0.0.1 and a client that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory: Path = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return Tls(server=server, client=ssl.create_default_context(cafile=str(cert_file)))


async def test_default_with_password_upgrades_to_tls_before_the_login(
    smtp_server: StartServer, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mailer verifies against the system's CAs; here it trusts the throwaway one.
    monkeypatch.setattr(mail, "_tls_context", lambda: tls.client)
    server = await smtp_server(tls=tls.server)
    mailer = SmtpMailer(host="127.0.0.1", port=server.port, user=USER, password=PASSWORD, timeout=5)
    assert mailer.uses_starttls  # nobody asked for it: the password did
    await mailer.send(message())
    assert server.seen.starttls == 1
    assert server.seen.auth_commands == [True]  # AUTH only inside TLS
    assert server.seen.logins == [(USER, PASSWORD, True)]
    assert len(server.seen.deliveries) == 1


async def test_untrusted_certificate_stops_before_the_login(
    smtp_server: StartServer, tls: Tls
) -> None:
    # The real default context: the throwaway CA is not trusted.
    server = await smtp_server(tls=tls.server)
    mailer = SmtpMailer(host="127.0.0.1", port=server.port, user=USER, password=PASSWORD, timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        await mailer.send(message())
    assert server.seen.logins == []
    assert server.seen.deliveries == []

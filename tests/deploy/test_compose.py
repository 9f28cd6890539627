"""The production shape (docker-compose.yml, Dockerfile) checked without a Docker engine.

``docker compose config`` cannot run here, so these tests do its job and more:

* the compose file validates against the Compose specification's JSON schema
  (vendored: ``compose-spec.json`` beside this file, see its README);
* every image is pinned to an exact version (the worker's base image by digest too);
* every ``SLA_*``/``TEMPORAL_*`` variable the worker reads (scanned from its source,
  plus the SDK's env config) is set in the worker service, and the environment as
  ``docker compose`` would render it from ``.env.example`` gives the real loaders a
  working configuration (an empty ``TEMPORAL_API_KEY`` would switch TLS on);
* the Dockerfile runs as a non-root user with a HEALTHCHECK and ``CMD sla worker``;
* the search attributes the compose job registers are exactly
  ``workflows/names.py`` ``SEARCH_ATTRIBUTES``;
* the PostgreSQL password has no default: compose refuses an empty one and the
  ``password-check`` job (run here with ``sh``) a well-known default, before
  anything that uses the password starts;
* the status web server mounts only the status site's volume, never the worker's
  data (outbox mails, billing, audits, dev tickets);
* the image installs its dependencies only from ``requirements.lock`` (every
  dependency of ``pyproject.toml`` pinned with sha256 hashes) with
  ``--require-hashes``, and the project itself with ``--no-deps``.

The checks are functions returning the problems they find, so
``test_checks_catch_a_broken_deployment`` can prove each one on a broken copy.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.envconfig import ClientConfig

from service.codec import codec_from_env
from worker import WorkerSettings
from workflows.names import SEARCH_ATTRIBUTES

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
NGINX_CONF = ROOT / "deploy" / "nginx" / "status.conf"
SCHEMA = HERE / "compose-spec.json"
LOCK_SCRIPT = ROOT / "deploy" / "lock.sh"
MAKEFILE = ROOT / "Makefile"

WORKER = "worker"
STATUS = "status"
SEARCH_ATTRIBUTE_JOB = "search-attributes"
PASSWORD_CHECK = "password-check"
ARCHIVE_PASSWORD_CHECK = "archive-password-check"

OPERATOR_PASSWORD = "test-only-Kq3v9xW2pL7zR4"
"""What an operator puts into ``.env`` (``.env.example`` leaves it empty on purpose)."""

ARCHIVE_PASSWORD = "test-only-archive-Jm5tB8nQ2w"
"""The archive database's password in ``.env`` (also left empty in ``.env.example``)."""

REFUSED_PASSWORDS = ("change-me", "changeme", "postgres", "password", "CHANGE-ME", " postgres ")
"""Well-known defaults the ``password-check`` job must refuse (the first one shipped once)."""

# -- what the worker reads ------------------------------------------------------------

WORKER_SOURCES = ("worker.py", "telemetry.py", "workflows", "activities", "service")
"""Code that runs in the worker process (``service/connect.py`` and ``service/codec.py``
read the environment there; ``worker.py`` imports ``service``); a file that does not
exist (yet) is skipped."""

_ENV_NAME_IN_SOURCE = re.compile(r"[\"'`]((?:SLA|TEMPORAL)_[A-Z0-9_]*[A-Z0-9])[\"'`]")
"""A variable name as the code names it: quoted (``env.get("SLA_X")``) or in backticks."""

SDK_ENV_CONFIG = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_DATA",
    "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_SERVER_NAME",
    "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
)
"""The SDK env-config variables ``workflows.client.connect`` honours (DESIGN §4).

``test_sdk_reads_every_listed_variable`` proves each one against the SDK itself.
``TEMPORAL_GRPC_META_*`` (a prefix, not a name) is left to compose overrides.
"""


NOT_IN_THE_WORKER = {"service/mailbox.py": "mail-intake"}
"""Client-side modules the worker never imports, and the service that runs them."""


def source_env_names(
    root: Path = ROOT, sources: tuple[str, ...] = WORKER_SOURCES, *, skip_others: bool = True
) -> set[str]:
    """Every ``SLA_*``/``TEMPORAL_*`` name quoted in ``sources`` (the worker's by default)."""
    names: set[str] = set()
    for entry in sources:
        path = root / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if skip_others and file.relative_to(root).as_posix() in NOT_IN_THE_WORKER:
                continue
            if file.is_file():
                names.update(_ENV_NAME_IN_SOURCE.findall(file.read_text("utf-8")))
    return names


def worker_env_names() -> set[str]:
    """What the worker service must set: the scanned names and the SDK's env config."""
    return source_env_names() | set(SDK_ENV_CONFIG)


# -- compose interpolation (the subset docker compose implements) -----------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariableError(ValueError):
    """A ``${VAR:?message}`` whose variable is unset (``docker compose`` refuses to start)."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute ``$VAR``, ``${VAR}``, ``${VAR:-d}``, ``${VAR-d}``, ``${VAR:?m}``, ``$$``.

    Raises:
        MissingVariableError: A required variable (``?``) is unset or empty.
    """

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        value = env.get(name)
        op, arg = match["op"], match["arg"] or ""
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise MissingVariableError(f"{name}: {arg}")
        if op == ":+":
            return arg if value else ""
        if op == "+":
            return arg if value is not None else ""
        return value or ""

    return _VARIABLE.sub(substitute, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    """``interpolate`` every string value of a loaded compose document."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def referenced_variables(node: Any) -> set[str]:
    """Names a compose document interpolates, plus the pass-through environment entries."""
    found: set[str] = set()
    if isinstance(node, str):
        for match in _VARIABLE.finditer(node):
            if not match["escaped"]:
                found.add(match["braced"] or match["named"])
    elif isinstance(node, list):
        for item in node:
            found |= referenced_variables(item)
    elif isinstance(node, dict):
        for value in node.values():
            found |= referenced_variables(value)
        environment = node.get("environment")
        if isinstance(environment, dict):
            found |= {name for name, value in environment.items() if value is None}
    return found


def read_env_file(path: Path = ENV_EXAMPLE) -> tuple[dict[str, str], set[str]]:
    """A dotenv file's ``KEY=value`` pairs, and every key it mentions (commented ones too)."""
    values: dict[str, str] = {}
    documented: set[str] = set()
    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        commented = line.startswith("#")
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not match:
            continue
        key, value = match[1], match[2].strip()
        documented.add(key)
        if not commented:
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[key] = value
    return values, documented


def service_environment(service: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """A service's environment as the container gets it (``env`` is the shell plus ``.env``).

    An entry without a value is passed through from ``env`` and is absent when unset.
    """
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    result: dict[str, str] = {}
    for name, value in raw.items():
        if value is None:
            if name in env:
                result[name] = env[name]
        else:
            result[name] = interpolate(str(value), env)
    return result


# -- loading ---------------------------------------------------------------------------


def load_compose(path: Path = COMPOSE) -> dict[str, Any]:
    """The compose file as YAML data (anchors resolved, nothing interpolated)."""
    document = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(document, dict), f"{path.name} is not a mapping"
    return document


def example_env() -> dict[str, str]:
    """The variables of ``cp .env.example .env`` with an otherwise empty shell.

    Plus the one value the operator must set: ``.env.example`` leaves
    ``POSTGRES_PASSWORD`` empty, so that compose refuses to start without it.
    """
    return {
        **read_env_file()[0],
        "POSTGRES_PASSWORD": OPERATOR_PASSWORD,
        "SLA_ARCHIVE_DB_PASSWORD": ARCHIVE_PASSWORD,
    }


# -- the checks ------------------------------------------------------------------------


def schema_errors(document: Mapping[str, Any]) -> list[str]:
    """Violations of the Compose specification's JSON schema."""
    schema = json.loads(SCHEMA.read_text("utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    ]


_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-.+][0-9A-Za-z.+-]+)?$")
_MAJOR_MINOR = re.compile(r"^\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MAJOR_MINOR_IMAGES = frozenset({"postgres"})
"""Images whose releases are numbered major.minor (PostgreSQL 16.9 is an exact release)."""


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    """``[registry/]repository[:tag][@digest]`` → (repository, tag, digest)."""
    name, _, digest = reference.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def image_problem(reference: str) -> str | None:
    """Why ``reference`` is not pinned to an exact version, or ``None`` when it is."""
    name, tag, digest = split_image(reference)
    if digest is not None:
        # A digest names one immutable image, whatever the tag says.
        return None if _DIGEST.match(digest) else f"{reference}: malformed digest"
    if tag is None:
        return f"{reference}: no tag (means latest)"
    if tag == "latest":
        return f"{reference}: 'latest' is not a version"
    repository = name.rsplit("/", 1)[-1]
    if _EXACT_VERSION.match(tag):
        return None
    if repository in MAJOR_MINOR_IMAGES and _MAJOR_MINOR.match(tag):
        return None
    return f"{reference}: tag {tag!r} is not an exact version"


def unpinned_images(document: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Services whose image is not pinned (services built here are checked via the Dockerfile)."""
    problems = []
    for name, service in interpolate_tree(document, env)["services"].items():
        image = service.get("image")
        if "build" in service:
            continue
        if not image:
            problems.append(f"{name}: neither image nor build")
        elif problem := image_problem(image):
            problems.append(f"{name}: {problem}")
    return problems


def missing_worker_env(
    document: Mapping[str, Any], required: set[str], service: str = WORKER
) -> list[str]:
    """Variables in ``required`` that ``service`` does not set or pass through."""
    environment = document["services"][service].get("environment") or {}
    names = (
        set(environment)
        if isinstance(environment, dict)
        else {item.split("=", 1)[0] for item in environment}
    )
    return [f"{service} does not set {name}" for name in sorted(required - names)]


def worker_configuration_problems(document: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Feed the worker's rendered environment to the real loaders; say what is wrong."""
    problems = []
    environment = service_environment(document["services"][WORKER], env)
    connect = ClientConfig.load_client_connect_config(
        override_env_vars=environment, disable_file="TEMPORAL_CONFIG_FILE" not in environment
    )
    expected_address = env.get("TEMPORAL_ADDRESS") or "temporal:7233"
    if connect.get("target_host") != expected_address:
        problems.append(f"Temporal address {connect.get('target_host')!r}")
    if connect.get("namespace") != (env.get("TEMPORAL_NAMESPACE") or "default"):
        problems.append(f"Temporal namespace {connect.get('namespace')!r}")
    secured = any(
        env.get(n) for n in SDK_ENV_CONFIG if n.startswith(("TEMPORAL_TLS", "TEMPORAL_API"))
    )
    if not secured and ("api_key" in connect or connect.get("tls")):
        # e.g. TEMPORAL_API_KEY: ${TEMPORAL_API_KEY:-} renders "", and "" means TLS on.
        problems.append(f"TLS/API key switched on without being configured: {connect}")
    settings = WorkerSettings.from_env(environment)
    if settings.data_dir != Path("/data"):
        problems.append(f"data dir {settings.data_dir}")
    if not settings.sender.strip():
        problems.append("empty SLA_MAIL_FROM")
    if settings.smtp is None:
        problems.append("no SMTP server: mail would pile up in the outbox inside the volume")
    if "SLA_CODEC_KEYS" not in env and codec_from_env(environment) is not None:
        problems.append("payload encryption switched on without keys")
    port = environment.get("SLA_METRICS_PORT", "")
    if not port.isdigit():
        problems.append(f"SLA_METRICS_PORT {port!r}: no metrics endpoint, health check fails")
    if importlib.util.find_spec("telemetry") is not None:
        telemetry: Any = importlib.import_module("telemetry")
        address = telemetry.TelemetrySettings.from_env(environment).metrics_address
        if address is None or not address.endswith(f":{port}"):
            problems.append(f"metrics endpoint {address!r}")
    return problems


def dockerfile_instructions(text: str) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instruction, _, arguments = logical.partition(" ")
        yield instruction.upper(), arguments.strip()
        logical = ""


def dockerfile_problems(text: str) -> list[str]:
    """The final stage must run non-root with a HEALTHCHECK and ``CMD sla worker``."""
    args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    bases: list[str] = []
    for instruction, arguments in dockerfile_instructions(text):
        if instruction == "ARG" and not stages:
            name, _, default = arguments.partition("=")
            args[name] = default
        elif instruction == "FROM":
            image = interpolate(arguments.split()[0], args)
            bases.append(image)
            stages.append([])
        elif stages:
            stages[-1].append((instruction, arguments))
    if not stages:
        return ["no FROM"]
    problems = []
    for base in bases:
        if base in {"scratch"}:
            continue
        # Both: the tag says which version, the digest makes it immutable.
        name, tag, digest = split_image(base)
        if problem := image_problem(f"{name}:{tag}" if tag else name):
            problems.append(f"base image {problem}")
        if digest is None or not _DIGEST.match(digest):
            problems.append(f"base image {base} is not pinned by digest")
    final = stages[-1]
    users = [arguments for instruction, arguments in final if instruction == "USER"]
    if not users:
        problems.append("final stage has no USER: runs as root")
    else:
        user = users[-1].split(":")[0]
        if user in {"root", "0"}:
            problems.append(f"final stage runs as root (USER {users[-1]})")
    checks = [arguments for instruction, arguments in final if instruction == "HEALTHCHECK"]
    if not checks or checks[-1].upper().startswith("NONE"):
        problems.append("final stage has no HEALTHCHECK")
    commands = [arguments for instruction, arguments in final if instruction == "CMD"]
    command = _exec_form(commands[-1]) if commands else []
    if command != ["sla", "worker"]:
        problems.append(f"CMD is {command}, not sla worker")
    return problems


def _exec_form(arguments: str) -> list[str]:
    if arguments.startswith("["):
        value = json.loads(arguments)
        assert isinstance(value, list)
        return [str(v) for v in value]
    return shlex.split(arguments)


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """A ``.dockerignore`` pattern as a regex over context-relative paths."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether ``.dockerignore`` ``patterns`` keep ``path`` out of the build context.

    Docker's rules: patterns are anchored at the context root, match the path or any
    of its parent directories, ``**`` spans directories, ``!`` re-includes, and the
    last matching pattern wins.
    """
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        regex = _dockerignore_regex(raw.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def build_context_problems(pyproject: Mapping[str, Any], dockerignore: str) -> list[str]:
    """Files ``pip install .`` needs that ``.dockerignore`` keeps out of the image build."""
    patterns = [
        line.strip()
        for line in dockerignore.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    setuptools = pyproject["tool"]["setuptools"]
    needed = ["pyproject.toml", str(pyproject["project"]["readme"])]
    needed += [package.replace(".", "/") + "/__init__.py" for package in setuptools["packages"]]
    needed += [f"{module}.py" for module in setuptools.get("py-modules", [])]
    for package, globs in setuptools.get("package-data", {}).items():
        needed += [f"{package.replace('.', '/')}/{glob}" for glob in globs]
    return [f".dockerignore excludes {path}" for path in needed if dockerignored(path, patterns)]


CLI_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}
"""The ``temporal operator search-attribute create --type`` name of each value type."""


def registered_search_attributes(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, type) pairs the one-shot job registers, in order."""
    job = document["services"][SEARCH_ATTRIBUTE_JOB]
    specs = str(job["environment"]["SLA_SEARCH_ATTRIBUTES"]).split()
    return [(name, kind) for name, _, kind in (spec.partition("=") for spec in specs)]


def search_attribute_problems(document: Mapping[str, Any]) -> list[str]:
    """Differences between the compose job's attributes and ``SEARCH_ATTRIBUTES``."""
    registered = registered_search_attributes(document)
    wanted = {key.name: CLI_TYPES[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}
    counts = Counter(name for name, _ in registered)
    problems = [f"{name} registered {n} times" for name, n in counts.items() if n > 1]
    got = dict(registered)
    problems += [
        f"{name} ({kind}) is not registered" for name, kind in wanted.items() if name not in got
    ]
    problems += [f"{name} is not in workflows/names.py" for name in got if name not in wanted]
    problems += [
        f"{name} registered as {got[name]}, names.py says {kind}"
        for name, kind in wanted.items()
        if name in got and got[name] != kind
    ]
    return problems


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's dependencies and the condition it waits for on each."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


PASSWORD_CHECKS = {
    "POSTGRES_PASSWORD": PASSWORD_CHECK,
    "SLA_ARCHIVE_DB_PASSWORD": ARCHIVE_PASSWORD_CHECK,
}
"""Each database password and the one-shot job that must check it before anyone uses it."""


def password_problems(document: Mapping[str, Any]) -> list[str]:
    """Where a PostgreSQL password could be defaulted or used before it is checked."""
    problems = []
    services = document["services"]
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            text = str(value or "")
            for variable in PASSWORD_CHECKS:
                if re.search(rf"\b{variable}\b", text) and not re.fullmatch(
                    rf"\$\{{{variable}:\?[^}}]+\}}", text
                ):
                    problems.append(f"{name}: {key} is not ${{{variable}:?message}}")
    for variable, check in PASSWORD_CHECKS.items():
        job = services.get(check)
        if job is None:
            problems.append(f"no {check} job")
            continue
        if job.get("restart", "no") != "no":
            problems.append(f"{check} restarts: it is a one-shot job")
        for name, service in services.items():
            values = " ".join(str(v or "") for v in (service.get("environment") or {}).values())
            if name == check or not re.search(rf"\$\{{{variable}\b", values):
                continue
            # Reaches the check through its dependencies, the last step waiting for success.
            seen, todo, checked = {name}, [name], False
            while todo:
                for dependency, condition in depends_on(services[todo.pop()]).items():
                    if dependency == check:
                        checked |= condition == "service_completed_successfully"
                    elif dependency not in seen:
                        seen.add(dependency)
                        todo.append(dependency)
            if not checked:
                problems.append(f"{name} gets the password without waiting for {check}")
    return problems


def status_mount_problems(document: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The web server must see the status site and nothing else of the worker's data."""
    worker, status = document["services"][WORKER], document["services"][STATUS]
    data_dir = service_environment(worker, env)["SLA_DATA_DIR"]
    # The worker writes the site to $SLA_DATA_DIR/status (WorkerSettings.status_dir).
    status_dir = str(WorkerSettings(Path(data_dir), "x", None).status_dir)
    mounts = {v["target"]: v for v in worker.get("volumes", []) if isinstance(v, dict)}
    site = mounts.get(status_dir)
    problems = []
    if site is None or site.get("type") != "volume":
        return [f"the worker has no volume of its own at {status_dir}"]
    private = {
        v["source"] for target, v in mounts.items() if target != status_dir and "source" in v
    }
    served = None
    for volume in status.get("volumes", []):
        if not isinstance(volume, dict):
            problems.append(f"status: short volume syntax {volume!r}")
            continue
        if volume.get("source") in private:
            problems.append(f"status mounts the worker's {volume['source']} at {volume['target']}")
        if volume.get("type") == "bind" and not str(volume["source"]).startswith("./deploy/nginx/"):
            problems.append(f"status binds {volume['source']}")
        if volume.get("read_only") is not True:
            problems.append(f"status mounts {volume.get('source')} writable")
        if volume.get("source") == site["source"]:
            served = volume
    if served is None:
        return [*problems, f"status does not mount {site['source']}"]
    root = re.search(r"^\s*root\s+([^;]+);", NGINX_CONF.read_text("utf-8"), re.MULTILINE)
    if root is None or root[1] != served["target"]:
        problems.append(f"nginx root {root and root[1]!r} is not {served['target']}")
    return problems


def run_password_check(
    compose: Mapping[str, Any], password: str
) -> subprocess.CompletedProcess[str]:
    """The ``password-check`` job's script with ``sh``, as compose would run it."""
    job = compose["services"][PASSWORD_CHECK]
    script = next(v["source"] for v in job["volumes"] if v["target"] == job["entrypoint"][-1])
    env = {
        **service_environment(job, {**example_env(), "POSTGRES_PASSWORD": password}),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [*job["entrypoint"][:-1], str(ROOT / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


# -- lock file -----------------------------------------------------------------------

LOCK_PLATFORM = {
    "python_version": "3.11",
    "python_full_version": "3.11.14",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
"""The image's interpreter (python:3.11.14-slim-bookworm), for requirement markers
(``Marker.evaluate`` takes the rest from the running interpreter)."""

_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})\b")


def parse_lock(text: str) -> dict[str, tuple[Requirement, list[str]]]:
    """``requirements.lock`` as canonical name → (requirement, its sha256 hashes)."""
    entries: dict[str, tuple[Requirement, list[str]]] = {}
    logical = ""
    for raw in [*text.splitlines(), ""]:
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        if logical.strip():
            spec, _, options = logical.partition(" --")
            requirement = Requirement(spec.strip())
            hashes = _HASH.findall("--" + options) if options else []
            entries[canonicalize_name(requirement.name)] = (requirement, hashes)
        logical = ""
    return entries


def lock_problems(
    pyproject: Mapping[str, Any], lock: str, extras: tuple[str, ...] = ()
) -> list[str]:
    """Dependencies of ``pyproject`` (and ``extras``) the lock does not pin with hashes."""
    entries = parse_lock(lock)
    problems = []
    for name, (requirement, hashes) in entries.items():
        pins = [s for s in requirement.specifier if s.operator == "=="]
        if len(pins) != 1 or len(requirement.specifier) != 1 or "*" in pins[0].version:
            problems.append(f"{name}: not pinned to one version ({requirement})")
        if not hashes:
            problems.append(f"{name}: no sha256 hash")
    wanted = [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    for extra in extras:
        wanted += pyproject["project"]["optional-dependencies"][extra]
    for text in wanted:
        dependency = Requirement(text)
        if dependency.marker is not None and not dependency.marker.evaluate(LOCK_PLATFORM):
            continue
        locked = entries.get(canonicalize_name(dependency.name))
        if locked is None:
            problems.append(f"{dependency.name}: in pyproject.toml, not in the lock")
            continue
        version = next(iter(locked[0].specifier)).version
        if not dependency.specifier.contains(version, prereleases=True):
            problems.append(
                f"{dependency.name}: locked {version} is outside {dependency.specifier}"
            )
    return problems


_PIP_INSTALL = re.compile(r"\bpip\s+install\b([^&;|]*)")


def dockerfile_install_problems(text: str) -> list[str]:
    """Every ``pip install`` of the image is hash-checked or installs nothing from an index."""
    problems = []
    installs = [
        match[1]
        for instruction, arguments in dockerfile_instructions(text)
        if instruction == "RUN"
        for match in _PIP_INSTALL.finditer(arguments)
    ]
    if not installs:
        return ["no pip install"]
    if not any("--require-hashes" in args and "requirements" in args for args in installs):
        problems.append("no pip install --require-hashes -r requirements…lock")
    for args in installs:
        options = args.split()
        hashed = "--require-hashes" in options and "-r" in options
        offline = {"--no-deps", "--no-index"} <= set(options)
        if not hashed and not offline:
            problems.append(f"pip install{args.rstrip()}: neither --require-hashes nor offline")
        if hashed and "--no-deps" not in options:
            problems.append(f"pip install{args.rstrip()}: without --no-deps")
    return problems


def dockerfile_lock_files(text: str) -> dict[str, Path]:
    """Extra (``""``: none) → the lock file the image installs for ``--build-arg SLA_EXTRAS``."""
    found = re.search(r"-r\s+\"?([^\s\"]+\.lock)", text)
    assert found is not None, "the Dockerfile installs from no lock file"
    pattern = found[1]
    variants = {}
    for extra in ("", "otel"):
        name = pattern.replace("${SLA_EXTRAS:+-${SLA_EXTRAS}}", f"-{extra}" if extra else "")
        variants[extra] = ROOT / name
    return variants


# -- tests -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []
    # The vendored schema is the real one: it refuses what Compose refuses.
    assert schema_errors({"services": {"x": {"image": "a:1.0.0", "restart_policy": "always"}}})
    assert schema_errors({"services": {"x": {"depends_on": {"y": {"condition": "started"}}}}})


def test_every_image_is_pinned_to_an_exact_version(compose: dict[str, Any]) -> None:
    assert unpinned_images(compose, example_env()) == []
    images = {s.get("image") for s in interpolate_tree(compose, example_env())["services"].values()}
    assert "sla-engine:0.1.0" in images  # the worker image, built from ./Dockerfile


def test_image_rules() -> None:
    assert image_problem("temporalio/auto-setup:1.29.1") is None
    assert image_problem("temporalio/admin-tools:1.29.1-tctl-1.18.4-cli-1.5.0") is None
    assert image_problem("axllent/mailpit:v1.31.1") is None
    assert image_problem("postgres:16.9-bookworm") is None
    assert image_problem("python:3.11-slim@sha256:" + "a" * 64) is None
    assert image_problem("localhost:5000/team/app:2.3.4") is None
    for floating in ("nginx", "nginx:latest", "postgres:16", "nginx:1.28", "nginx:stable"):
        assert image_problem(floating), floating
    assert image_problem("localhost:5000/team/app")


def test_worker_sets_every_variable_it_reads(compose: dict[str, Any]) -> None:
    scanned = source_env_names()
    # The scan sees what the code reads today (not an empty or stale list).
    assert {"SLA_DATA_DIR", "SLA_SMTP_HOST", "SLA_MAIL_FROM", "SLA_CODEC_KEYS"} <= scanned
    assert {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY"} <= scanned
    assert missing_worker_env(compose, worker_env_names()) == []


def test_the_intake_services_set_every_variable_they_read(compose: dict[str, Any]) -> None:
    imap = source_env_names(ROOT, ("service/mailbox.py",), skip_others=False)
    assert {"SLA_IMAP_HOST", "SLA_IMAP_PASSWORD"} <= imap
    assert missing_worker_env(compose, imap, "mail-intake") == []
    api = source_env_names(ROOT, ("api", "cli/api.py"), skip_others=False)
    assert {"SLA_API_TOKENS", "SLA_API_TOKENS_FILE"} <= api
    assert missing_worker_env(compose, api, "api") == []
    for service in ("api", "mail-intake"):
        assert compose["services"][service]["profiles"] == ["intake"]
        assert compose["services"][service]["image"] == compose["services"][WORKER]["image"]


@pytest.mark.parametrize("name", SDK_ENV_CONFIG)
def test_sdk_reads_every_listed_variable(name: str, tmp_path: Path) -> None:
    """Each SDK_ENV_CONFIG entry changes what the SDK's env config loads."""
    pem = tmp_path / "x.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    config_file = tmp_path / "temporal.toml"
    config_file.write_text(
        '[profile.default]\naddress = "file:1"\n[profile.other]\naddress = "other:2"\n'
    )
    base = {"TEMPORAL_CONFIG_FILE": str(config_file)} if name == "TEMPORAL_PROFILE" else {}
    probes = {
        "TEMPORAL_ADDRESS": "probe:7233",
        "TEMPORAL_NAMESPACE": "probe",
        "TEMPORAL_API_KEY": "probe",
        "TEMPORAL_TLS": "true",
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pem),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pem),
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pem),
        "TEMPORAL_TLS_CLIENT_CERT_DATA": "probe",
        "TEMPORAL_TLS_CLIENT_KEY_DATA": "probe",
        "TEMPORAL_TLS_SERVER_CA_CERT_DATA": "probe",
        "TEMPORAL_TLS_SERVER_NAME": "probe",
        "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true",
        "TEMPORAL_PROFILE": "other",
        "TEMPORAL_CONFIG_FILE": str(config_file),
    }

    def load(env: dict[str, str]) -> Any:
        return ClientConfig.load_client_connect_config(override_env_vars=env)

    assert load({**base, name: probes[name]}) != load(base)


def test_worker_configuration_as_docker_compose_renders_it(compose: dict[str, Any]) -> None:
    env = example_env()
    assert worker_configuration_problems(compose, env) == []
    rendered = service_environment(compose["services"][WORKER], env)
    # Pass-through entries stay unset; an empty TEMPORAL_API_KEY would mean TLS.
    assert "TEMPORAL_API_KEY" not in rendered
    assert "TEMPORAL_TLS" not in rendered
    settings = WorkerSettings.from_env(rendered)
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port) == ("mailpit", 1025)
    # The same file reaches Temporal Cloud when .env says so.
    cloud = {
        **env,
        "TEMPORAL_ADDRESS": "sla.acct.tmprl.cloud:7233",
        "TEMPORAL_NAMESPACE": "sla.acct",
        "TEMPORAL_API_KEY": "secret",
    }
    assert worker_configuration_problems(compose, cloud) == []
    connect = ClientConfig.load_client_connect_config(
        override_env_vars=service_environment(compose["services"][WORKER], cloud),
        disable_file=True,
    )
    assert connect.get("api_key") == "secret"
    assert connect.get("tls")


def test_codec_server_token_is_passed_through_only_when_set(compose: dict[str, Any]) -> None:
    codec = compose["services"]["codec-server"]
    # An empty SLA_CODEC_TOKEN would make the codec server refuse every request.
    assert "SLA_CODEC_TOKEN" not in service_environment(codec, example_env())
    assert service_environment(codec, {"SLA_CODEC_TOKEN": "t"})["SLA_CODEC_TOKEN"] == "t"


def test_required_password_has_no_default(compose: dict[str, Any]) -> None:
    with pytest.raises(MissingVariableError, match="POSTGRES_PASSWORD"):
        interpolate_tree(compose, {})
    # `cp .env.example .env` alone does not start the stack: the password is empty there.
    example, documented = read_env_file()
    assert example["POSTGRES_PASSWORD"] == ""
    with pytest.raises(MissingVariableError, match=r"set POSTGRES_PASSWORD in \.env"):
        interpolate_tree(compose, example)
    assert "POSTGRES_PASSWORD" in documented
    assert password_problems(compose) == []


@pytest.mark.parametrize("password", REFUSED_PASSWORDS)
def test_password_check_refuses_well_known_defaults(compose: dict[str, Any], password: str) -> None:
    if shutil.which("sh") is None:
        pytest.skip("sh is not installed")
    result = run_password_check(compose, password)
    assert result.returncode == 1, result.stdout
    assert "well-known default" in result.stderr


@pytest.mark.parametrize(
    ("password", "reason"),
    [("temporal", "well-known default"), ("Kurz-123", "shorter than 12"), ("   ", "empty")],
)
def test_password_check_refuses_weak_passwords(
    compose: dict[str, Any], password: str, reason: str
) -> None:
    if shutil.which("sh") is None:
        pytest.skip("sh is not installed")
    result = run_password_check(compose, password)
    assert result.returncode == 1
    assert reason in result.stderr


def test_password_check_accepts_a_random_password_and_runs_first(
    compose: dict[str, Any],
) -> None:
    if shutil.which("sh") is None:
        pytest.skip("sh is not installed")
    result = run_password_check(compose, OPERATOR_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert OPERATOR_PASSWORD not in result.stdout + result.stderr
    job = compose["services"][PASSWORD_CHECK]
    assert job["network_mode"] == "none"
    assert depends_on(compose["services"]["postgresql"]) == {
        PASSWORD_CHECK: "service_completed_successfully"
    }
    # PostgreSQL and Temporal get the password; both wait for the check (Temporal via
    # PostgreSQL), and the worker via Temporal.
    assert password_problems(compose) == []


def test_every_compose_variable_is_documented_in_env_example(compose: dict[str, Any]) -> None:
    _, documented = read_env_file()
    assert referenced_variables(compose) - documented == set()


def test_dockerfile_runs_the_worker_as_non_root_with_a_health_check() -> None:
    text = DOCKERFILE.read_text("utf-8")
    assert dockerfile_problems(text) == []
    # The health check asks the metrics port the compose file gives the worker.
    check = next(a for i, a in dockerfile_instructions(text) if i == "HEALTHCHECK")
    assert "SLA_METRICS_PORT" in check
    assert "/metrics" in check
    worker = load_compose()["services"][WORKER]
    port = service_environment(worker, example_env())["SLA_METRICS_PORT"]
    assert interpolate_tree(worker["expose"], example_env()) == [port]
    assert "pip install" in text


def test_the_image_ships_bytecode_for_the_workflow_sandbox() -> None:
    # The runtime never writes bytecode, and the sandbox imports each workflow
    # module again per workflow run: it must find the bytecode built in.
    text = DOCKERFILE.read_text("utf-8")
    run = " ".join(a for i, a in dockerfile_instructions(text) if i == "RUN")
    assert "compileall" in run and "/opt/sla/lib" in run
    assert run.index("pip install") < run.index("compileall")


def test_build_context_holds_every_package_pip_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    dockerignore = (ROOT / ".dockerignore").read_text("utf-8")
    assert build_context_problems(pyproject, dockerignore) == []
    # ... while tests, local data and secrets stay out.
    patterns = [line for line in dockerignore.splitlines() if line and not line.startswith("#")]
    for kept_out in (".venv/bin/python", ".sla/devtickets.sqlite3", ".env", "tests/conftest.py"):
        assert dockerignored(kept_out, patterns), kept_out
    assert dockerignored("cli/__pycache__/main.cpython-311.pyc", patterns)
    # A package the build needs but .dockerignore drops is reported.
    assert build_context_problems(pyproject, dockerignore + "\ncli\n") == [
        ".dockerignore excludes cli/__init__.py"
    ]


def test_search_attributes_match_names_py(compose: dict[str, Any]) -> None:
    assert search_attribute_problems(compose) == []
    job = compose["services"][SEARCH_ATTRIBUTE_JOB]
    assert job["depends_on"]["temporal"]["condition"] == "service_healthy"
    depends = compose["services"][WORKER]["depends_on"]
    assert depends[SEARCH_ATTRIBUTE_JOB]["condition"] == "service_completed_successfully"
    assert depends["temporal"]["condition"] == "service_healthy"
    # auto-setup's own test attributes would crowd out ours (3 Datetime slots on SQL).
    temporal_env = compose["services"]["temporal"]["environment"]
    assert temporal_env["SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES"] == "true"
    datetimes = [n for n, kind in registered_search_attributes(compose) if kind == "Datetime"]
    assert len(datetimes) <= 3


FAKE_TEMPORAL_CLI = r"""#!/bin/bash
# Stand-in for the admin-tools image's `temporal`: keeps attributes in $FAKE_STATE.
touch "$FAKE_STATE"
case "$*" in
  *"search-attribute list"*)
    printf '  %-32s %s\n' Name Type BatcherNamespace Keyword
    cat "$FAKE_STATE" ;;
  *"search-attribute create"*)
    name=$(sed -E 's/.*--name ([^ ]+).*/\1/' <<<"$*")
    kind=$(sed -E 's/.*--type ([^ ]+).*/\1/' <<<"$*")
    printf '  %-32s %s\n' "$name" "$kind" >> "$FAKE_STATE"
    echo "created $name $kind" ;;
  *) exit 2 ;;
esac
"""


def test_search_attribute_job_registers_names_py_idempotently(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """Run the job's script against a fake CLI: creates each attribute once, then verifies."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    fake = tmp_path / "bin" / "temporal"
    fake.parent.mkdir()
    fake.write_text(FAKE_TEMPORAL_CLI)
    fake.chmod(0o755)
    job = compose["services"][SEARCH_ATTRIBUTE_JOB]
    script = next(v["source"] for v in job["volumes"] if v["target"] == job["entrypoint"][-1])
    env = {
        **service_environment(job, example_env()),
        "PATH": f"{fake.parent}:/usr/bin:/bin",
        "FAKE_STATE": str(tmp_path / "state"),
    }

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [bash, str(ROOT / script)], env=env, capture_output=True, text=True, timeout=30
        )

    first = run()
    assert first.returncode == 0, first.stderr
    created = re.findall(r"^created (\S+) (\S+)$", first.stdout, re.MULTILINE)
    wanted = {key.name: CLI_TYPES[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}
    assert dict(created) == wanted
    assert len(created) == len(wanted)
    second = run()
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout
    # A clash (an attribute registered earlier with another type) fails the job.
    (tmp_path / "state").write_text("  ReactionDue Keyword\n")
    clash = run()
    assert clash.returncode == 1
    assert "ReactionDue is not registered as Datetime" in clash.stderr


def test_files_the_stack_mounts_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict) and volume["type"] == "bind":
                assert (ROOT / volume["source"]).exists(), f"{name}: {volume['source']}"
    job = compose["services"][SEARCH_ATTRIBUTE_JOB]
    script = job["entrypoint"][-1]
    assert any(v["target"] == script for v in job["volumes"])
    dynamic_config = compose["services"]["temporal"]["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    assert (ROOT / "deploy/temporal/dynamicconfig" / Path(dynamic_config).name).is_file()


def test_dynamic_config_enables_what_the_engine_needs(compose: dict[str, Any]) -> None:
    path = compose["services"]["temporal"]["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    config = yaml.safe_load((ROOT / "deploy/temporal/dynamicconfig" / Path(path).name).read_text())
    for key, values in config.items():
        assert isinstance(values, list), key
        assert all(set(v) == {"value", "constraints"} for v in values), key
    # Operator commands are workflow updates; IDs live in 255-character columns.
    assert config["frontend.enableUpdateWorkflowExecution"][0]["value"] is True
    assert config["limit.maxIDLength"][0]["value"] == 255
    assert "system.forceSearchAttributesCacheRefreshOnRead" not in config  # development only


def test_status_server_mounts_only_the_status_site_read_only(compose: dict[str, Any]) -> None:
    assert status_mount_problems(compose, example_env()) == []
    worker, status = compose["services"][WORKER], compose["services"][STATUS]
    data_dir = service_environment(worker, example_env())["SLA_DATA_DIR"]
    assert WorkerSettings(Path(data_dir), "x", None).status_dir == Path(data_dir) / "status"
    sources = {v["source"] for v in status["volumes"]}
    assert sources == {"status-site", "./deploy/nginx/status.conf"}
    # The image creates /data/status owned by the worker's user, so the new volume
    # mounted there is the worker's to write.
    assert "/data/status" in DOCKERFILE.read_text("utf-8")


def test_the_image_installs_only_hash_checked_locked_packages() -> None:
    text = DOCKERFILE.read_text("utf-8")
    assert dockerfile_install_problems(text) == []
    run = " ".join(a for i, a in dockerfile_instructions(text) if i == "RUN")
    assert "--require-hashes" in run
    assert re.search(r"pip install (--\S+ )*--no-deps (--\S+ )*\.(\s|$)", run), run
    assert "pip check" in run
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    locks = dockerfile_lock_files(text)
    assert locks[""].name == "requirements.lock"
    for extra, lock in locks.items():
        assert lock.is_file(), f"{lock.name} missing: run `make lock`"
        assert lock_problems(pyproject, lock.read_text("utf-8"), (extra,) if extra else ()) == []
        # The image build needs the lock file: .dockerignore must not drop it.
        patterns = [
            line.strip()
            for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        assert not dockerignored(lock.name, patterns)
        copies = [a.split() for i, a in dockerfile_instructions(text) if i == "COPY"]
        assert any(lock.name in arguments for arguments in copies), lock.name


def test_every_runtime_dependency_is_pinned_with_a_hash() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    lock = parse_lock((ROOT / "requirements.lock").read_text("utf-8"))
    for text in pyproject["project"]["dependencies"]:
        name = canonicalize_name(Requirement(text).name)
        assert name in lock, f"{name} is not in requirements.lock: run `make lock`"
        requirement, hashes = lock[name]
        assert str(requirement.specifier).startswith("=="), requirement
        assert hashes, name
    # holidays is pinned exactly in pyproject.toml: the lock has that very version.
    assert str(lock["holidays"][0].specifier) == "==0.109"
    # The build backend too: the project is installed without build isolation.
    assert {"setuptools", "wheel"} <= set(lock)


def test_lock_is_resolved_for_the_images_python_and_regenerated_by_make_lock() -> None:
    base = re.search(r"python:(\d+\.\d+)\.\d+-slim", DOCKERFILE.read_text("utf-8"))
    assert base is not None
    script = LOCK_SCRIPT.read_text("utf-8")
    assert f"--python-version {base[1]}" in script
    assert "--generate-hashes" in script
    makefile = MAKEFILE.read_text("utf-8")
    assert re.search(r"^lock:", makefile, re.MULTILINE)
    assert "deploy/lock.sh" in makefile
    assert (
        (ROOT / "requirements.lock")
        .read_text("utf-8")
        .startswith(
            "# This file was autogenerated by uv via the following command:\n#    make lock\n"
        )
    )


def test_lock_checks_catch_a_stale_or_unhashed_lock() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    lock = (ROOT / "requirements.lock").read_text("utf-8")
    assert lock_problems(pyproject, lock) == []
    # A dependency added to pyproject.toml without `make lock`.
    grown = copy.deepcopy(pyproject)
    grown["project"]["dependencies"].append("attrs>=23")
    assert lock_problems(grown, lock) == ["attrs: in pyproject.toml, not in the lock"]
    # A lower bound raised past the locked version.
    raised = copy.deepcopy(pyproject)
    raised["project"]["dependencies"] = [
        "rich>=999" if d.startswith("rich") else d for d in raised["project"]["dependencies"]
    ]
    assert any("rich: locked" in p for p in lock_problems(raised, lock))
    # The otel extra is not in the plain lock.
    assert any("opentelemetry-sdk" in p for p in lock_problems(pyproject, lock, ("otel",)))
    # A line without hash, a range instead of a pin.
    unhashed = lock + "attrs==23.2.0\n"
    assert "attrs: no sha256 hash" in lock_problems(pyproject, unhashed)
    ranged = lock + "attrs>=23 \\\n    --hash=sha256:" + "a" * 64 + "\n"
    assert any("attrs: not pinned" in p for p in lock_problems(pyproject, ranged))
    # Dockerfiles that install around the lock.
    dockerfile = DOCKERFILE.read_text("utf-8")
    assert dockerfile_install_problems(dockerfile.replace("--require-hashes", ""))
    assert dockerfile_install_problems(
        dockerfile.replace("--no-deps --no-index --no-build-isolation .", ".")
    )
    assert dockerfile_install_problems(dockerfile + "RUN pip install requests\n")


def test_checks_catch_a_broken_deployment(compose: dict[str, Any]) -> None:
    env = example_env()

    unpinned = copy.deepcopy(compose)
    unpinned["services"]["mailpit"]["image"] = "axllent/mailpit"
    unpinned["services"][STATUS]["image"] = "nginx:latest"
    unpinned["services"]["postgresql"]["image"] = "postgres:16"
    assert len(unpinned_images(unpinned, env)) == 3

    missing = copy.deepcopy(compose)
    del missing["services"][WORKER]["environment"]["SLA_SMTP_HOST"]
    del missing["services"][WORKER]["environment"]["TEMPORAL_API_KEY"]
    assert missing_worker_env(missing, worker_env_names()) == [
        "worker does not set SLA_SMTP_HOST",
        "worker does not set TEMPORAL_API_KEY",
    ]
    assert "no SMTP server" in " ".join(worker_configuration_problems(missing, env))

    empty_key = copy.deepcopy(compose)
    empty_key["services"][WORKER]["environment"]["TEMPORAL_API_KEY"] = "${TEMPORAL_API_KEY:-}"
    assert "TLS/API key switched on" in " ".join(worker_configuration_problems(empty_key, env))
    # The same trap from an uncommented, empty line in .env.
    empty_in_env = {**env, "TEMPORAL_TLS": ""}
    assert "TLS/API key switched on" in " ".join(
        worker_configuration_problems(compose, empty_in_env)
    )

    no_namespace = copy.deepcopy(compose)
    no_namespace["services"][WORKER]["environment"]["TEMPORAL_NAMESPACE"] = "${NS:-}"
    assert worker_configuration_problems(no_namespace, env)

    attributes = copy.deepcopy(compose)
    job_env = attributes["services"][SEARCH_ATTRIBUTE_JOB]["environment"]
    job_env["SLA_SEARCH_ATTRIBUTES"] = (
        job_env["SLA_SEARCH_ATTRIBUTES"]
        .replace("DevTicket=Keyword", "")
        .replace("ReactionDue=Datetime", "ReactionDue=Keyword")
    )
    assert search_attribute_problems(attributes) == [
        "DevTicket (Keyword) is not registered",
        "ReactionDue registered as Keyword, names.py says Datetime",
    ]

    invalid = copy.deepcopy(compose)
    invalid["services"][WORKER]["restart_policy"] = "always"
    assert schema_errors(invalid)

    defaulted = copy.deepcopy(compose)
    defaulted["services"]["temporal"]["environment"]["POSTGRES_PWD"] = (
        "${POSTGRES_PASSWORD:-change-me}"
    )
    assert password_problems(defaulted) == [
        "temporal: POSTGRES_PWD is not ${POSTGRES_PASSWORD:?message}"
    ]
    unchecked = copy.deepcopy(compose)
    del unchecked["services"]["postgresql"]["depends_on"]
    assert password_problems(unchecked) == [
        "postgresql gets the password without waiting for password-check",
        "temporal gets the password without waiting for password-check",
    ]
    started_only = copy.deepcopy(compose)
    started_only["services"]["postgresql"]["depends_on"][PASSWORD_CHECK] = {
        "condition": "service_started"
    }
    assert len(password_problems(started_only)) == 2

    whole_volume = copy.deepcopy(compose)
    whole_volume["services"][STATUS]["volumes"][0] = {
        "type": "volume",
        "source": "sla-data",
        "target": "/srv/sla",
        "read_only": True,
    }
    assert "status mounts the worker's sla-data at /srv/sla" in status_mount_problems(
        whole_volume, env
    )
    writable = copy.deepcopy(compose)
    writable["services"][STATUS]["volumes"][0]["read_only"] = False
    assert status_mount_problems(writable, env) == ["status mounts status-site writable"]
    shared = copy.deepcopy(compose)
    shared["services"][WORKER]["volumes"] = [
        v for v in shared["services"][WORKER]["volumes"] if v["target"] != "/data/status"
    ]
    assert status_mount_problems(shared, env) == [
        "the worker has no volume of its own at /data/status"
    ]

    dockerfile = DOCKERFILE.read_text("utf-8")
    as_root = dockerfile.replace("USER 10001:10001", "USER root")
    assert "final stage runs as root (USER root)" in dockerfile_problems(as_root)
    no_check = re.sub(r"HEALTHCHECK[^\n]*\\\n[^\n]*\n", "", dockerfile)
    assert "final stage has no HEALTHCHECK" in dockerfile_problems(no_check)
    floating = re.sub(r"@sha256:[0-9a-f]{64}", "", dockerfile)
    assert any("not pinned by digest" in p for p in dockerfile_problems(floating))
    minor_only = re.sub(r"python:3\.11\.\d+-slim", "python:3.11-slim", dockerfile)
    assert any("is not an exact version" in p for p in dockerfile_problems(minor_only))


def test_the_archive_is_migrated_before_the_worker_starts(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = example_env()
    job = services["archive-migrate"]
    assert job["command"] == ["sla", "archive", "migrate"]
    assert job.get("restart") == "no"
    assert job["image"] == services[WORKER]["image"]
    assert depends_on(job) == {"archive-db": "service_healthy"}
    assert depends_on(services[WORKER])["archive-migrate"] == "service_completed_successfully"
    urls = {
        name: service_environment(services[name], env)["SLA_ARCHIVE_URL"]
        for name in ("archive-migrate", WORKER, "api")
    }
    assert len(set(urls.values())) == 1
    url = urls[WORKER]
    assert url.startswith("postgresql+psycopg://") and "@archive-db:5432/" in url
    # The password travels as PGPASSWORD (libpq), never inside the URL.
    assert ARCHIVE_PASSWORD not in url
    for name in ("archive-migrate", WORKER, "api"):
        assert service_environment(services[name], env)["PGPASSWORD"] == ARCHIVE_PASSWORD
    assert password_problems(compose) == []

"""The container files, checked without a Docker daemon (none runs where the tests run).

The Dockerfile is read instruction by instruction (dockerfile-parse) and linted with
hadolint; compose.yaml is read as YAML with Compose's own ``${NAME:-default}`` defaults
applied; ``.dockerignore`` is matched with Docker's rules; and what the files promise is
compared with what the code needs (every file of ``bot/`` and ``cogs/``, the drain on
SIGTERM, the database URL) and with what ``docs/docker.md`` tells people to type.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from dotenv import dotenv_values

from bot.cli.run import _CLOSE_SECONDS
from bot.config.products import PRODUCTS_FILE
from bot.config.settings import Settings
from bot.greenflash_client import GreenflashSettings
from bot.storage.config import DEFAULT_DATABASE_PATH
from bot.storage.schema import MIGRATIONS
from bot.storage.urls import engine_url

ROOT = Path(__file__).resolve().parents[1]
APP_DIRS = ("bot", "cogs")
# Shell words that would put a compiler, a package manager or pip's cache in the final image.
BUILD_TOOLS = {"apt", "apt-get", "apk", "dpkg", "pip", "pip3", "gcc", "g++", "cc", "clang",
               "make", "build-essential", "cargo", "rustc"}


# --- The Dockerfile --------------------------------------------------------------------


@dataclass
class Stage:
    """One ``FROM`` and its instructions; ``base`` has the ARGs before ``FROM`` resolved."""

    base: str
    name: str
    instructions: list[dict[str, Any]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [i["value"] for i in self.instructions if i["instruction"] == instruction]

    def commands(self) -> Iterator[list[str]]:
        """Every simple command of every ``RUN``, as the shell would split it."""
        for run in self.values("RUN"):
            lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            command: list[str] = []
            for word in lexer:
                if word in {"&&", "||", ";", "|"}:
                    yield command
                    command = []
                else:
                    command.append(word)
            yield command


@cache
def stages() -> tuple[Stage, ...]:
    parser = DockerfileParser(str(ROOT / "Dockerfile"))
    bases = iter(parser.parent_images)
    found: list[Stage] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            words = instruction["value"].split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            found.append(Stage(base=next(bases), name=name))
        elif found:
            found[-1].instructions.append(instruction)
    return tuple(found)


def final() -> Stage:
    return stages()[-1]


def copies(stage: Stage) -> Iterator[tuple[dict[str, str], list[str], str]]:
    """Each ``COPY`` as (its ``--flags``, sources, destination made absolute by ``WORKDIR``)."""
    workdir = PurePosixPath("/")
    for instruction in stage.instructions:
        value = instruction["value"]
        if instruction["instruction"] == "WORKDIR":
            workdir = workdir / value
        elif instruction["instruction"] == "COPY":
            words = shlex.split(value)
            flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
            paths = [w for w in words if not w.startswith("--")]
            destination = str(workdir / paths[-1]) + ("/" if paths[-1].endswith("/") else "")
            yield flags, paths[:-1], destination


def image_path(stage: Stage, repo_file: str) -> PurePosixPath | None:
    """Where a file of the checkout lands in the stage's image, or None if no ``COPY`` of
    the build context takes it (files ``.dockerignore`` leaves out are not in the context)."""
    if ignored(repo_file):
        return None
    landed = None
    for flags, sources, destination in copies(stage):
        if "from" in flags:
            continue
        into_folder = destination.endswith("/") or len(sources) > 1
        for written in sources:
            source = written.rstrip("/").removeprefix("./")
            if (ROOT / source).is_dir() and repo_file.startswith(f"{source}/"):
                landed = PurePosixPath(destination) / repo_file.removeprefix(f"{source}/")
            elif source == repo_file:
                landed = PurePosixPath(destination) / (Path(source).name if into_folder else "")
    return landed


def useradd(stage: Stage) -> tuple[str, int]:
    """The user the stage creates: its name and uid."""
    for command in stage.commands():
        if command[:1] == ["useradd"]:
            return command[-1], int(command[command.index("--uid") + 1])
    raise AssertionError("the final stage creates no user with useradd --uid")


def venv_of(executable: str) -> str:
    return str(PurePosixPath(executable).parent.parent)


def test_every_stage_is_python_311_slim_from_the_same_tag() -> None:
    """The venv is built in one stage and run in the other: its ``bin/python`` links to the
    base's interpreter, which must be the same one."""
    assert len(stages()) >= 2, "a build stage and a final stage"
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim-bookworm", final().base), final().base
    assert {stage.base for stage in stages()} == {final().base}


def test_the_lock_is_installed_as_it_is_with_hashes_into_the_venv_the_final_stage_runs() -> None:
    build = stages()[:-1]
    installs = [c for stage in build for c in stage.commands()
                if PurePosixPath(c[0]).name.startswith("pip") and c[1:2] == ["install"]]
    assert len(installs) == 1, installs
    pip = installs[0]
    assert "--require-hashes" in pip and "--no-cache-dir" in pip
    lock = pip[pip.index("-r") + 1]
    lock_copies = [(s, d) for stage in build for f, s, d in copies(stage) if "from" not in f]
    assert (["requirements.txt"], lock) in lock_copies, "the -r file is not the copied lock"
    assert not ignored("requirements.txt")

    venvs = [c for stage in build for c in stage.commands() if c[1:3] == ["-m", "venv"]]
    assert venvs and "--upgrade-deps" in venvs[0], "pip 23.2 cannot install this lock"
    venv = venvs[0][-1]
    assert venv_of(pip[0]) == venv
    from_build = [(s, d) for f, s, d in copies(final()) if "from" in f]
    assert from_build == [([venv], venv)], "the final stage takes the venv and nothing else"
    assert DockerfileParser(str(ROOT / "Dockerfile")).envs["PATH"].startswith(f"{venv}/bin:")


def test_the_last_user_is_not_root_and_is_the_user_the_image_creates() -> None:
    users = final().values("USER")
    assert users, "no USER: the bot would run as root"
    user = users[-1].partition(":")[0]
    name, uid = useradd(final())
    assert user in {name, str(uid)}, f"USER {user} is not the created {name} ({uid})"
    assert name != "root"
    assert uid != 0


def test_the_entrypoint_is_python_m_bot_with_a_clean_stop() -> None:
    assert [json.loads(v) for v in final().values("ENTRYPOINT")] == [["python", "-m", "bot"]]
    assert final().values("CMD") == [], "arguments belong to the bot's command line"
    assert final().values("STOPSIGNAL") == ["SIGTERM"]
    assert final().values("WORKDIR")[-1] == "/app"
    envs = DockerfileParser(str(ROOT / "Dockerfile")).envs
    assert envs["PYTHONUNBUFFERED"] == "1"
    assert envs["PYTHONDONTWRITEBYTECODE"] == "1"
    assert final().values("HEALTHCHECK") == []


def test_the_final_stage_installs_no_build_tools() -> None:
    used = {word for command in final().commands() for word in command}
    assert not used & BUILD_TOOLS


def repository_files(*folders: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", *folders], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    return [name for name in listed.split("\0") if name]


def test_every_file_the_app_reads_lands_where_it_reads_it() -> None:
    """Every file of the packages ``python -m bot`` imports from, at the same place under
    ``WORKDIR`` (the code finds ``products.toml`` and its migrations next to itself)."""
    files = repository_files(*APP_DIRS)
    for data in [PRODUCTS_FILE, *MIGRATIONS.rglob("*.py")]:
        assert str(data.relative_to(ROOT)) in files, f"{data} is read but not committed"
    workdir = PurePosixPath(final().values("WORKDIR")[-1])
    misplaced = {f: image_path(final(), f) for f in files if image_path(final(), f) != workdir / f}
    assert misplaced == {}


def test_the_sqlite_file_is_in_a_volume_the_bot_user_owns() -> None:
    """Whichever ``DATABASE_PATH`` wins (the image's, the code's default, or .env.example's
    relative one), the file is inside the declared volume."""
    volumes = [v for value in final().values("VOLUME") for v in json.loads(value)]
    assert len(volumes) == 1
    volume = PurePosixPath(volumes[0])
    workdir = PurePosixPath(final().values("WORKDIR")[-1])
    paths = [DockerfileParser(str(ROOT / "Dockerfile")).envs["DATABASE_PATH"],
             DEFAULT_DATABASE_PATH, dotenv_values(ROOT / ".env.example")["DATABASE_PATH"]]
    assert {(workdir / str(path)).parent for path in paths} == {volume}
    name, uid = useradd(final())
    chowns = [c for c in final().commands() if c[:1] == ["chown"]]
    assert [c[-1] for c in chowns] == [str(volume)]
    assert chowns[0][1].partition(":")[0] in {name, str(uid)}


def test_hadolint_finds_nothing_and_every_ignore_gives_its_reason(tmp_path: Path) -> None:
    """Run from an empty folder with an empty home so no ``.hadolint.yaml`` or ``HADOLINT_*``
    setting can quietly ignore a rule; an inline ignore must follow a comment saying why."""
    hadolint = Path(sys.executable).with_name("hadolint")
    report = subprocess.run(
        [str(hadolint), "--format", "json", "--failure-threshold", "style",
         str(ROOT / "Dockerfile")],
        cwd=tmp_path, env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)},
        capture_output=True, text=True, check=False,
    )
    assert json.loads(report.stdout) == []
    assert report.returncode == 0
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"#\s*hadolint\s+ignore=", line):
            reason = lines[number - 1] if number else ""
            assert reason.startswith("#") and "hadolint" not in reason, (
                f"Dockerfile line {number + 1}: an ignore with no comment above saying why")


# --- .dockerignore ----------------------------------------------------------------------


def docker_pattern(pattern: str) -> re.Pattern[str]:
    """moby/patternmatcher's translation: ``*`` and ``?`` stop at ``/``, ``**`` crosses any
    number of folders (none included)."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
            regex += ".*" if i == len(pattern) else "(.*/)?"
            continue
        char = pattern[i]
        regex += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
        i += 1
    return re.compile(regex)


def ignored(path: str) -> bool:
    """Docker's verdict: the last pattern that matches the path or a folder above it wins
    (a ``!`` pattern lets it back in)."""
    verdict = False
    parts = path.split("/")
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for line in filter(None, map(str.strip, lines)):
        if line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!")).lstrip("/")
        regex = docker_pattern(pattern)
        if any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            verdict = not keep
    return verdict


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [  # Docker's own examples (docs.docker.com, "Build context", .dockerignore files).
        ("*/temp*", "somedir/temporary.txt", True),
        ("*/temp*", "temporary.txt", False),
        ("*/*/temp*", "somedir/subdir/temporary.txt", True),
        ("temp?", "tempa", True),
        ("**/*.go", "a/b/c.go", True),
        ("**/*.go", "c.go", True),
        ("*", "a/b", False),
    ],
)
def test_the_matcher_follows_docker(pattern: str, path: str, matches: bool) -> None:
    assert bool(docker_pattern(pattern).fullmatch(path)) is matches


@pytest.mark.parametrize(
    "path",
    [".env", "bot/.env", ".env.production", ".git/config", ".venv/bin/python", "data/bot.sqlite3",
     "bot/__pycache__/client.cpython-311.pyc", "tests/conftest.py",
     "tests/benchmarks/bench_latency.py", "docs/docker.md", ".pytest_cache/README.md"],
)
def test_the_build_context_keeps_out(path: str) -> None:
    assert ignored(path)


@pytest.mark.parametrize("path", ["bot/client.py", "bot/config/products.toml", "requirements.txt"])
def test_the_build_context_lets_in(path: str) -> None:
    assert not ignored(path)


# --- compose.yaml and docs/docker.md ----------------------------------------------------


def interpolate(value: str, environ: dict[str, str] | None = None) -> str:
    """Compose's ``${NAME:-default}`` with ``environ`` (a run with nothing set by default)."""
    environ = environ or {}
    replaced = re.sub(r"(?<!\$)\$\{(\w+)(?::?-([^}]*))?\}",
                      lambda m: environ.get(m[1]) or m[2] or "", value)
    return replaced.replace("$$", "$")


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, f"not a Compose duration: {duration}"
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_runs_postgres_with_a_named_volume_and_a_health_check() -> None:
    assert set(compose()["services"]) == {"db", "migrate", "bot"}
    db = service("db")
    assert re.fullmatch(r"postgres:16-(alpine|bookworm)", db["image"])
    volume, _, target = db["volumes"][0].partition(":")
    assert volume in compose()["volumes"]
    assert target == "/var/lib/postgresql/data"
    for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        assert re.fullmatch(rf"\$\{{{name}:-[^}}]+\}}", db["environment"][name]), name
    test = db["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    assert shlex.split(interpolate(test[1]))[0] == "pg_isready"


def test_migrate_runs_once_on_a_healthy_database_and_the_bot_only_after_it() -> None:
    migrate, bot = service("migrate"), service("bot")
    assert migrate["image"] == bot["image"]
    assert migrate["build"] == bot["build"] == "."
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"},
                                 "migrate": {"condition": "service_completed_successfully"}}
    assert bot["restart"] == "unless-stopped"
    assert bot["env_file"] == ".env"
    assert "command" not in bot, "the image's python -m bot runs the bot"


def test_the_bot_and_migrate_reach_the_db_service_as_its_user() -> None:
    db = {k: interpolate(v) for k, v in service("db")["environment"].items()}
    for name in ("migrate", "bot"):
        url = engine_url(interpolate(service(name)["environment"]["DATABASE_URL"]), "")
        assert url.drivername == "postgresql+asyncpg"
        assert (url.host, url.port) == ("db", 5432)
        assert (url.username, url.password, url.database) == (
            db["POSTGRES_USER"], db["POSTGRES_PASSWORD"], db["POSTGRES_DB"])


def test_the_stop_grace_period_outlasts_the_drain() -> None:
    """The bot's own sequence on SIGTERM with its default settings: replies (half the
    shutdown grace), Greenflash's drain, then closing the interrupted connection."""
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    drain = grace / 2 + GreenflashSettings.model_fields["drain_seconds"].default + _CLOSE_SECONDS
    assert seconds(service("bot")["stop_grace_period"]) > drain


def doc_commands() -> list[list[str]]:
    """The commands of docs/docker.md's shell blocks, as the shell splits them."""
    text = (ROOT / "docs" / "docker.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert blocks
    return [shlex.split(line, comments=True) for block in blocks for line in block.splitlines()]


def compose_services_named(commands: list[list[str]]) -> set[str]:
    """Services in ``docker compose run|exec SERVICE ...`` and ``logs|up|stop SERVICE...``."""
    named: set[str] = set()
    for command in commands:
        if command[:2] != ["docker", "compose"] or len(command) < 3:
            continue
        words = [w for w in command[3:] if not w.startswith("-")]
        if command[2] in {"run", "exec"}:
            named.add(words[0])
        elif command[2] in {"logs", "up", "stop", "start", "restart", "build"}:
            named.update(words)
    return named


def test_the_doc_names_the_compose_services_and_volume() -> None:
    commands = doc_commands()
    assert compose_services_named(commands) == set(compose()["services"])
    labels = [w.removeprefix("label=com.docker.compose.volume=") for c in commands for w in c
              if w.startswith("label=com.docker.compose.volume=")]
    assert labels
    assert set(labels) == set(compose()["volumes"])


def test_the_doc_runs_the_image_alone_with_a_volume_on_the_sqlite_folder() -> None:
    image = service("bot")["image"]
    commands = doc_commands()
    builds = [c for c in commands if c[:2] == ["docker", "build"]]
    assert builds and all(c[c.index("-t") + 1] == image for c in builds)
    volume = json.loads(final().values("VOLUME")[0])[0]
    runs = [c for c in commands if c[:2] == ["docker", "run"]]
    assert runs
    for run in runs:
        mount = run[run.index("-v") + 1].split(":")
        assert mount[1] == volume and not mount[0].startswith(("/", ".")), mount
        assert run[run.index("--env-file") + 1] == ".env"
        assert image in run

# The bot as a container: `docker compose up` (compose.yaml, with PostgreSQL) or the image
# alone with a volume for SQLite (docs/docker.md). Both stages share one base, so the venv
# built in the first finds the very same interpreter in the second.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The hashed lock needs a current pip (the 23.2 that Python 3.11's venv brings crashes on
# lxml[html-clean]), hence --upgrade-deps. Every pin in the lock has a manylinux wheel, so
# no compiler is installed here either.
RUN python -m venv --upgrade-deps /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH="/opt/venv/bin:${PATH}" \
    DATABASE_PATH=/app/data/bot.sqlite3
# A fixed uid, so a volume's owner is the same on every host and in every release. The code
# stays root's: the bot can write its data directory and nothing else.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin bot \
    && mkdir -p /app/data \
    && chown bot:bot /app/data
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY LICENSE .python-version ./
COPY cogs/ ./cogs/
COPY bot/ ./bot/
# The SQLite file when DATABASE_URL is unset; compose.yaml's PostgreSQL leaves it empty.
VOLUME ["/app/data"]
# Numeric, so a runtime that checks runAsNonRoot can see it is not root without /etc/passwd.
USER 10001:10001
# No HEALTHCHECK: the bot is a Discord gateway worker that listens on no port and offers no
# health endpoint. Once connected, discord.py reconnects by itself; a Discord unreachable at
# start ends the process (exit 1) and the restart policy tries again. `python -m bot doctor`
# checks the settings and services on demand.
# On SIGTERM the bot stops taking messages, lets replies and Greenflash calls finish, then
# exits 0 (bot/cli/run.py); compose.yaml's stop_grace_period gives it the time.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "bot"]

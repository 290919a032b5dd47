# syntax=docker/dockerfile:1
# The headrace image: the API server (and its dashboard) and the worker, one image for both.
#   docker build -t headrace .
#   docker run -e HEADRACE_DATABASE_URL=postgresql://... -p 4200:4200 headrace
# docker-compose.yml beside this file runs Postgres + the API + a worker.

# --- builder: build the wheel and install it with its [server] extra into a venv -------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/headrace
# Only what the wheel is built from (.dockerignore keeps the rest of the tree out of the context).
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY sdk ./sdk
COPY service ./service
COPY worker ./worker
# pip stays in the venv so that an image built FROM this one can add the user's own packages.
# The embedded PostgreSQL (pgserver, 34 MB of postgres binaries) is left out: the image always
# runs against HEADRACE_DATABASE_URL.
RUN /opt/headrace/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && wheel="$(ls /wheels/headrace-*.whl)" \
    && /opt/headrace/bin/pip install "${wheel}[server]" \
    && /opt/headrace/bin/pip uninstall --yes pgserver

# --- runtime: the venv alone, as a non-root user ---------------------------------------------
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin headrace
COPY --from=builder /opt/headrace /opt/headrace
ENV PATH=/opt/headrace/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEADRACE_HOME=/home/headrace/.headrace
USER headrace
WORKDIR /home/headrace
EXPOSE 4200
# The same command as the README's; bind to all interfaces so the port can be published.
CMD ["headrace", "server", "start", "--host", "0.0.0.0"]

# One image for web and worker; compose.yaml picks the command:
#   web:    resimply serve --host 0.0.0.0 --port 8000   (the default CMD)
#   worker: arq resimply.worker.WorkerSettings
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the package and its dependencies ------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scripts/install.sh scripts/install.sh
COPY resimply ./resimply
# The same install command as CI (`make install`, `make install-check`).
RUN bash scripts/install.sh /opt/venv

# --- runtime: the virtualenv only, as an unprivileged user ----------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="resimply" \
      org.opencontainers.image.description="Turns cooking videos into structured recipes, live over WebSocket and SSE" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Proprietary" \
      org.opencontainers.image.source="https://github.com/resimply/resimply"
RUN groupadd --system --gid 10001 resimply \
 && useradd --system --uid 10001 --gid resimply --home-dir /data --shell /usr/sbin/nologin resimply \
 && mkdir -p /data \
 && chown resimply:resimply /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RESIMPLY_DATA_DIR=/data \
    LOG_FORMAT=json
WORKDIR /data
USER 10001:10001
EXPOSE 8000
# SIGTERM: web ends open streams and exits; a worker hands its jobs back.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["resimply", "serve", "--host", "0.0.0.0", "--port", "8000"]

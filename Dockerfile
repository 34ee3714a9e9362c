# One image for web and worker; the command differs (see compose.yaml).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY resimply ./resimply
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 resimply
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH RESIMPLY_DATA_DIR=/data PYTHONUNBUFFERED=1
RUN mkdir -p /data && chown resimply /data
USER resimply
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["resimply", "serve", "--host", "0.0.0.0", "--port", "8000"]

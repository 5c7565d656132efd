# The dispatch server on its embedded defaults (SQLite in /data, in-process bus).
# For scale-out, set DISPATCH_DATABASE_URL to PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY dispatch ./dispatch
COPY gateways ./gateways
COPY state_machines ./state_machines
COPY web ./web
RUN pip install .
COPY config.yaml ./config.yaml

RUN useradd --system --create-home --uid 10001 dispatch \
    && mkdir /data && chown dispatch:dispatch /data
USER dispatch

ENV DISPATCH_CONFIG=/app/config.yaml \
    DISPATCH_DATABASE_URL=sqlite:////data/dispatch.db \
    DISPATCH_HOST=0.0.0.0 \
    DISPATCH_PORT=8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["dispatch", "serve"]

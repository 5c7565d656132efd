# The dispatch server on its embedded defaults (SQLite in /data, in-process bus).
# For scale-out, set DISPATCH_DATABASE_URL to PostgreSQL.
#
# Dependencies are installed in a layer of their own, pinned by .ci/constraints.txt (the file CI
# installs with too): a change to the code rebuilds only the last layers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# 1. The runtime dependencies named in pyproject.toml (not the test extras), at the pinned versions.
COPY pyproject.toml ./
COPY .ci/constraints.txt ./.ci/constraints.txt
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c .ci/constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# 2. The code, installed without touching the dependencies above.
COPY README.md ./
COPY dispatch ./dispatch
COPY gateways ./gateways
COPY state_machines ./state_machines
COPY web ./web
RUN pip install --no-deps .
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
# Ready, not merely alive: the database answers and the writer runs (GET /readyz, 503 otherwise).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2)"
CMD ["dispatch", "serve"]

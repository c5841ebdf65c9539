# One image for every Titan process; the compose command chooses which one runs:
#   titan serve brain | execution | console | scavenger | simulator
#   python -m titan_worker worker | beat
#   titan migrate, titan preflight, titan nginx cert (one-shot jobs)
# Dependencies install from the hashed lock file only (--require-hashes --no-deps):
# a package that is not pinned with its hash fails the build (omni-master-deployment.md).
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    TITAN_VAR_DIR=/var/lib/titan \
    TITAN_HOST=127.0.0.1

# openssl makes the local self-signed certificate (titan nginx cert)
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt ./
RUN pip install --require-hashes --no-deps -r requirements.txt

# Editable installs: the code that runs is the code under /app, which is what
# `titan preflight` hashes against governance.lock.
COPY pyproject.toml governance.lock ./
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/
COPY data/ data/
COPY scripts/ scripts/
COPY deploy/ deploy/
RUN pip install --no-deps --no-build-isolation \
        -e libs/titan_common -e services/brain -e services/execution -e services/console \
        -e services/scavenger -e services/sim -e services/worker -e tools/backtest -e tools/ops \
    && useradd --system --uid 10001 --home-dir /var/lib/titan --shell /usr/sbin/nologin titan \
    && mkdir -p /var/lib/titan /var/log/titan /tls \
    && chown titan:titan /var/lib/titan /var/log/titan /tls

USER titan
VOLUME ["/var/lib/titan"]
CMD ["titan", "serve", "console"]

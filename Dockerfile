# Build a wheel in one stage, install it into a slim, non-root runtime in the next.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# tini is PID 1: it forwards `docker stop`'s SIGTERM to Concord (which then drains deliveries in flight) and
# reaps children. Python as PID 1 would get no default signal handling from the kernel.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 concord && mkdir /data && chown concord /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /app
COPY glossaries ./glossaries
USER concord
ENV CONCORD_DATABASE=/data/concord.db \
    CONCORD_GLOSSARY_DIR=/app/glossaries \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
# The token comes from the environment: docker run -e DISCORD_TOKEN=... -v concord-data:/data concord
# `docker stop` waits 10 s before SIGKILL; Concord drains for CONCORD_SHUTDOWN_GRACE (8 s) within that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "bot", "run"]

# Build a wheel in one stage, install it into a slim, non-root runtime in the next.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 concord && mkdir /data && chown concord /data
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
CMD ["python", "-m", "bot", "run"]

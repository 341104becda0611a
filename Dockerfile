# Heard, production image. Build: docker build -t heard .
# Run:   docker run -e HEARD_ENV=production -e HEARD_SECRET_KEY=... \
#          -e HEARD_DATABASE_URL=postgresql://... -e HEARD_REDIS_URL=redis://... \
#          -e HEARD_FORWARDED_ALLOW_IPS=<your proxy's address> -p 8000:8000 heard
# With several workers, set HEARD_REDIS_URL so rate limits are counted once, not per worker.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HEARD_ENV=production

WORKDIR /srv/heard

# Dependencies first, so a code change doesn't reinstall them.
COPY pyproject.toml README.md ./
COPY app/__init__.py app/__init__.py
RUN pip install --upgrade pip && pip install . && pip uninstall -y heard

COPY alembic.ini ./
COPY migrations migrations
COPY app app
# Editable, so the code, templates and migrations are read from /srv/heard.
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --home-dir /srv/heard --shell /usr/sbin/nologin heard \
    && mkdir -p /srv/heard/var \
    && chown -R heard:heard /srv/heard/var

USER heard
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"

# Migrations run before the server starts; several workers share the database (and Redis,
# when HEARD_REDIS_URL is set, for rate limits and live updates).
CMD ["sh", "-c", "heard db upgrade && exec heard serve --host 0.0.0.0 --port 8000 --workers ${HEARD_WORKERS:-4}"]

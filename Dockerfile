# Heard, production image: the web server by default, `heard worker` and `heard db upgrade`
# from the same image. compose.yaml runs all three with PostgreSQL and Redis:
#   docker compose up            (HEARD_SECRET_KEY and POSTGRES_PASSWORD in .env)
# Or by hand: docker build -t heard .
#   docker run -e HEARD_ENV=production -e HEARD_SECRET_KEY=... \
#     -e HEARD_DATABASE_URL=postgresql://... -e HEARD_REDIS_URL=redis://... \
#     -e HEARD_FORWARDED_ALLOW_IPS=<your proxy's address> -p 8000:8000 heard
#   docker run -e ...the same... heard heard worker     (queued email and scheduled jobs)
# HEARD_WEB_WORKERS (4) is both how many server processes start and how the PostgreSQL
# connection budget (HEARD_DATABASE_MAX_CONNECTIONS) is shared out, so the two always agree.
# With several of them, set HEARD_REDIS_URL so rate limits are counted once, not per process.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HEARD_ENV=production \
    HEARD_WEB_WORKERS=4

WORKDIR /srv/heard

# Dependencies first, at the exact versions of the lock file, so a code change doesn't
# reinstall them.
COPY requirements.lock ./
RUN pip install --upgrade pip && pip install -r requirements.lock

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

# /healthz says the process answers, without touching the database: a database outage must
# not get every web container restarted. (/readyz is for a load balancer's readiness.)
# The worker serves no HTTP: compose.yaml turns this check off for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"

# On its own (docker run), migrations run before the server starts. compose.yaml runs them
# once, as a service of their own, and starts the server and the worker after them.
CMD ["sh", "-c", "heard db upgrade && exec heard serve --host 0.0.0.0 --port 8000 --workers ${HEARD_WEB_WORKERS}"]

# syntax=docker/dockerfile:1
# The production image for web, worker, beat and migrate (docker-compose.yml). Local use: `make run`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint renders PDFs through Pango and HarfBuzz (with its subsetting library); the fonts are
# the ones our PDF layouts fall back to.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
        fonts-dejavu-core fonts-liberation \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. Every package is pinned and hashed.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY . .

# Hashed, compressed static files, served by WhiteNoise. Settings refuse to load in production mode
# without a strong SECRET_KEY and a real EMAIL_URL; these exist only for this build step: the key signs
# nothing at runtime and no mail is sent.
ENV STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media
RUN DEBUG=false \
    SECRET_KEY=collectstatic-only-build-time-value-that-signs-nothing-at-runtime-0123456789 \
    EMAIL_URL=smtp://localhost:25 \
    ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build@localhost/build \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0

# Run as an unprivileged user; media is the one folder it writes (a volume in docker-compose.yml).
RUN groupadd --system --gid 10001 oms \
    && useradd --system --uid 10001 --gid oms --home-dir /app --no-create-home --shell /usr/sbin/nologin oms \
    && mkdir -p /app/media \
    && chown oms:oms /app/media
USER oms

EXPOSE 8000
CMD ["gunicorn", "oms.wsgi:application", "--bind=0.0.0.0:8000", "--access-logfile=-", "--logger-class=oms.gunicorn_logging.AccessLogger"]

# One image for the web (uvicorn, ASGI) and worker (celery) services of docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTAL_DATA_DIR=/data

# ffmpeg: ingest, proxies and the studio tools; gettext: compilemessages below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files and translations are baked into the image. collectstatic runs with the production
# settings on purpose: they store static files with CompressedManifestStaticFilesStorage, which
# needs the manifest (hashed names) that only a production-mode collectstatic writes. The key is a
# throwaway for this build step only; no database is touched.
RUN export PORTAL_ENV=production SECRET_KEY=build-step-only-not-a-secret PORTAL_DATA_DIR=/tmp/build-data \
    && python manage.py collectstatic --noinput --verbosity 0 \
    && if find . -name '*.po' | grep -q .; then python manage.py compilemessages --verbosity 0; fi \
    && rm -rf /tmp/build-data

RUN useradd --system --uid 10001 --home-dir /app portal \
    && mkdir -p /data \
    && chown portal /data
USER portal
VOLUME ["/data"]
EXPOSE 8000

# Behind a TLS-terminating reverse proxy. uvicorn does not rewrite the client address from
# X-Forwarded-For (with "*" anyone could forge theirs): the portal reads that header only from the
# proxies named in TRUSTED_PROXIES, and the scheme from X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER).
# One worker process per core the container may use (WEB_CONCURRENCY overrides): services mode shares
# websockets across them through channels_redis, and each keeps a small pool of database connections.
CMD ["sh", "-c", "exec uvicorn portal.asgi:application --host 0.0.0.0 --port 8000 --no-proxy-headers --workers ${WEB_CONCURRENCY:-$(nproc)}"]

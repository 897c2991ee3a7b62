# The base image is a build arg so a registry mirror, a pinned digest or a locally
# built image can stand in for the official one.
ARG BASE_IMAGE=python:3.13-slim

# ---- build: a virtualenv with the dependencies, cached apart from the code ----
FROM ${BASE_IMAGE} AS build
ARG PROJECT_DIR=site
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# python3 with its venv module is all a base needs (Debian's python3-venv, or any python image).
RUN { python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' && python3 -m venv /opt/venv; } \
    || { echo "error: BASE_IMAGE needs python3, 3.10 or newer, with its venv module (Debian: python3-venv)" >&2; exit 1; }
# The project's own requirements (requirements*.txt and a requirements/ folder they may
# include, or pyproject.toml), and the runtime's (the servers, WhiteNoise, the database
# drivers): only these files, so a code edit leaves this layer cached. manage.py is
# there so that each COPY has a file to copy when the globs find none.
COPY ${PROJECT_DIR}/manage.py ${PROJECT_DIR}/requirements*.txt ${PROJECT_DIR}/pyproject.tom[l] /tmp/project/
COPY ${PROJECT_DIR}/manage.py ${PROJECT_DIR}/requirement[s] /tmp/project/requirements/
COPY requirements.txt /tmp/runtime-requirements.txt
COPY docker/install_requirements.py /tmp/
# An extra CA (a TLS-intercepting proxy's) arrives as a BuildKit secret: it is
# joined to the system bundle on a tmpfs, so neither ever lands in a layer.
# pip goes once the packages are in: the site never needs it at run time.
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=extra_ca \
    --mount=type=tmpfs,target=/tmp/ca \
    set -eu; \
    if [ -s /run/secrets/extra_ca ]; then \
        cat /etc/ssl/certs/ca-certificates.crt /run/secrets/extra_ca > /tmp/ca/bundle.pem 2>/dev/null \
            || cp /run/secrets/extra_ca /tmp/ca/bundle.pem; \
        export PIP_CERT=/tmp/ca/bundle.pem; \
    fi; \
    python3 /tmp/install_requirements.py /tmp/project /tmp/runtime-requirements.txt; \
    /opt/venv/bin/pip uninstall --yes --quiet pip

# ---- runtime: what both modes run on ----
FROM ${BASE_IMAGE} AS runtime
ARG APP_UID=10001
# Every project runs under the image's settings layer (docker/imagesettings.py), which
# imports the project's own module, PROJECT_SETTINGS_MODULE, and applies the environment.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/usr/local/lib/django-docker \
    DJANGO_SETTINGS_MODULE=imagesettings
# sqlite3 is the program behind `manage.py dbshell` for the default database.
# Its package lists and apt's caches go in the same layer: not every base cleans them.
# Unpinned on purpose: the base image is a build arg, so the version to pin depends
# on its Debian release, whose security updates are the ones worth having.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends sqlite3 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
# A fixed, unprivileged user. /data is where the named volume with the database is
# mounted: setgid and group-writable, so development (run as you, in this group)
# and production (run as app) can both write the database.
RUN groupadd --system --gid "${APP_UID}" app \
    && useradd --system --uid "${APP_UID}" --gid app --home-dir /home/app --create-home --shell /usr/sbin/nologin app \
    && install --directory --owner app --group app --mode 2775 /data
COPY --from=build /opt/venv /opt/venv
COPY docker/ /usr/local/lib/django-docker/
WORKDIR /app
USER ${APP_UID}:${APP_UID}
EXPOSE 8000
HEALTHCHECK --interval=2s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["python", "/usr/local/lib/django-docker/entrypoint.py"]
CMD ["serve"]

# ---- development: the project is mounted at /app, so an edit to it changes no image ----
FROM runtime AS development

# ---- proxy: Caddy in front of the web tasks in a Swarm, configured by compose/Caddyfile ----
FROM ${BASE_IMAGE} AS proxy
ARG PROXY_UID=10002
# Everything Caddy writes goes to the volume at /data: certificates and ACME accounts in
# /data/caddy (its data directory), and the copy of its running config it saves at every start
# (its config directory, the same folder: the file names do not meet). The root stays read-only.
ENV XDG_DATA_HOME=/data \
    XDG_CONFIG_HOME=/data
# A fixed uid, made before the package, whose postinst then keeps it: a certificate volume
# written by one build stays readable by the next.
RUN groupadd --system --gid "${PROXY_UID}" caddy \
    && useradd --system --uid "${PROXY_UID}" --gid caddy --home-dir /var/lib/caddy --no-create-home \
        --shell /usr/sbin/nologin caddy \
    && install --directory --owner caddy --group caddy --mode 0700 /data
# Debian's caddy, for the same reason as the runtime's sqlite3: the security updates of the
# base's release are the ones worth having.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends caddy \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY compose/Caddyfile /etc/caddy/Caddyfile
COPY docker/proxyentrypoint.py /usr/local/lib/django-docker/
USER ${PROXY_UID}:${PROXY_UID}
# Unprivileged ports (the host publishes 80 and 443 onto them): Caddy needs no capability, so the
# container can drop them all, as the web container does. A file capability on the binary instead
# would make its exec fail under cap_drop ALL and be ignored under no-new-privileges.
EXPOSE 8080 8443
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/health', timeout=2)"]
ENTRYPOINT ["python3", "/usr/local/lib/django-docker/proxyentrypoint.py"]
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]

# ---- production (the last stage, so a plain `docker build` makes it): the code baked in ----
FROM runtime AS production
ARG PROJECT_DIR=site
ARG PROJECT_SETTINGS_MODULE=config.settings
ARG APP_UID=10001
COPY ${PROJECT_DIR}/ /app/
USER 0:0
# collectstatic needs settings, not the real ones: a random key lives for this command only,
# and settings that insist on a DATABASE_URL or ALLOWED_HOSTS get harmless ones; nothing of
# .env is here. The files go to /opt/static (settingsrules.STATIC_ROOT), outside the code.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    ENVIRONMENT=production PROJECT_SETTINGS_MODULE="${PROJECT_SETTINGS_MODULE}" \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput --verbosity 0
USER ${APP_UID}:${APP_UID}

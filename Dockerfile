# baton-xmatters as a ConductorOne self-hosted connector (docs/deploy.md).
#
#   docker build -t baton-xmatters .
#   docker run -e BATON_CLIENT_ID -e BATON_CLIENT_SECRET -e BATON_BASE_URL -e BATON_USERNAME \
#     -e BATON_PASSWORD -v baton-xmatters-data:/data baton-xmatters
#
# (podman/buildah: add --format docker, or the OCI format drops the HEALTHCHECK.)
# With BATON_CLIENT_ID/BATON_CLIENT_SECRET set, the entry point runs C1's service mode; without
# them it is the one-shot CLI (`docker run ... baton-xmatters -f /data/sync.c1z`).
# PYTHON_IMAGE: any Debian-based image with Python 3.11 and its venv module, the same in both stages
# (the venv is copied between them). For an offline build, give pip a wheelhouse:
#   --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=/wheels -v "$PWD/wheelhouse:/wheels:ro"
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG PIP_NO_INDEX
ARG PIP_FIND_LINKS
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pipelines pipelines
COPY orchestration orchestration
COPY expectations expectations
COPY simulator simulator
# A plain (not editable) install into a venv that the runtime stage copies as it is. First the
# digest of the copied sources (orchestration/service/source_digest.py), before pip writes build
# files into /src: tests/service/test_container.py runs the image only if the tree's is the same.
RUN python3 -m venv /opt/baton-xmatters \
 && python3 -B -m orchestration.service.source_digest /src > /opt/baton-xmatters/SOURCE_DIGEST \
 && /opt/baton-xmatters/bin/pip install /src \
 && /opt/baton-xmatters/bin/baton-xmatters --version

FROM ${PYTHON_IMAGE}
# No compilers, no pip cache, no source tree: the venv only. A fixed uid so volume permissions
# can be set from outside (Kubernetes fsGroup / runAsUser 10001).
RUN groupadd --gid 10001 baton \
 && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin baton \
 && mkdir -p /data && chown baton:baton /data && chmod 0700 /data
COPY --from=build /opt/baton-xmatters /opt/baton-xmatters
ENV PATH=/opt/baton-xmatters/bin:$PATH \
    BATON_XMATTERS_HOME=/data \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The warehouse, dlt state and Dagster run history: keep it across restarts (change history,
# the sudden-drop check and the Dagster UI's run history all read it).
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
# Healthy while the service has reached C1 in the last 10 minutes (orchestration/service/health.py).
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
  CMD ["python", "-m", "orchestration.service.health"]
ENTRYPOINT ["baton-xmatters"]

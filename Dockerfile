# syntax=docker/dockerfile:1
# One image for the three graph components, chosen at run time exactly like Seldon's s2i
# Python images: MODEL_NAME (module.Class) and SERVICE_TYPE (MODEL, TRANSFORMER, ...).
#
#   make image                                               # Docker or Podman, see README
#   docker build -t seldon-graph:0.1.0 .                     # runtime image, no models
#   docker build --target demo -t seldon-graph:0.1.0-demo .  # + artifacts/v1 at /mnt/models
#
# In a cluster the models arrive through each node's modelUri, which Seldon's storage
# initializer puts at /mnt/models (the `model_uri` parameter). torch's PyPI wheels carry
# the CUDA runtime, so the same image uses a GPU on a node with the NVIDIA driver and
# device plugin.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: a virtualenv with the pinned dependencies, and the project's wheel -------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
# Set by `make image` where the build may read local wheels (scripts/image/build.py):
# PIP_FIND_LINKS names their folders, mounted into the build, and LOCAL_WHEELS lists the
# pinned torch and CUDA wheels found there, installed from those folders only.
ARG PIP_FIND_LINKS
ARG PIP_CERT
ARG LOCAL_WHEELS
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first, in their own layers, so a code change reinstalls nothing: torch and
# its CUDA wheels (they depend on constraints.txt only, so an edit of setup.cfg does not
# reinstall them), then setup.cfg's install_requires pinned by constraints.txt.
COPY constraints.txt ./
RUN pip install -c constraints.txt "setuptools<81" wheel \
    && if [ -n "$LOCAL_WHEELS" ]; then \
        echo "$LOCAL_WHEELS" > local.txt && sed -i 's/ \+/\n/g' local.txt \
        && pip install --no-index --no-deps -c constraints.txt -r local.txt; \
    fi \
    && grep -E '^(torch|torchvision)==' constraints.txt > torch.txt \
    && pip install -c constraints.txt -r torch.txt
COPY setup.cfg pyproject.toml ./
RUN python -c "import configparser; c = configparser.ConfigParser(); c.read('setup.cfg'); print(c['options']['install_requires'])" > requirements.txt \
    && pip install -c constraints.txt -r requirements.txt \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +
COPY model ./model
COPY graph ./graph
# The project as a wheel, installed by the runtime stage on top of the copied virtualenv.
RUN pip wheel --no-deps --no-build-isolation -c constraints.txt -w /wheels .
# Every stage ends labelled, so `make image` prunes its own outdated, untagged images
# (scripts/image/build.py) and nothing else on the machine.
LABEL io.seldon-graph.image=seldon-graph

# ---- runtime-base: the virtualenv, a non-root user, Seldon's ports and command ---------
FROM ${PYTHON_IMAGE} AS runtime-base
# tini as PID 1 passes SIGTERM on to the wrapper's process group: Python as PID 1 would
# ignore it, and the pod would wait out its whole grace period.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 8888 seldon \
    && useradd --uid 8888 --gid 8888 --home-dir /app --no-create-home --shell /usr/sbin/nologin seldon \
    && mkdir -p /app /mnt/models \
    && chown 8888:8888 /app /mnt/models
# The dependencies: one large layer that only a dependency change rebuilds.
COPY --from=builder /opt/venv /opt/venv
# The root filesystem is read-only in the pod: numba (alibi-detect's cached kernels) and
# matplotlib (imported by alibi-detect) write their caches under the /tmp volume instead.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NUMBA_CACHE_DIR=/tmp/numba \
    MPLCONFIGDIR=/tmp/matplotlib \
    MODEL_NAME=model.predictor.TorchPredictor \
    SERVICE_TYPE=MODEL
# The project: small layers of its own. (Its wheel is copied, not bind-mounted: Podman 4.3
# does not count what a RUN --mount reads in its layer cache.)
COPY --from=builder /wheels /wheels
RUN pip install --no-deps --no-index --no-compile --no-cache-dir --disable-pip-version-check \
        /wheels/seldon_graph-*.whl
WORKDIR /app
USER 8888
# REST, gRPC and metrics ports of the Seldon Python wrapper.
EXPOSE 9000 5000 6000
# For `docker run` (Kubernetes uses the probes Seldon adds); kept by `--format docker`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health/ping' % os.environ.get('PREDICTIVE_UNIT_HTTP_SERVICE_PORT', '9000'), timeout=4)"]
ENTRYPOINT ["tini", "-g", "--"]
# Shell form so the variables expand; exec so the wrapper replaces the shell under tini
# (hence DL3025, which asks for the JSON form, is off for this line).
# hadolint ignore=DL3025
CMD exec seldon-core-microservice $MODEL_NAME --service-type $SERVICE_TYPE
LABEL io.seldon-graph.image=seldon-graph

# ---- demo: the default model v1 baked in at /mnt/models (docker build --target demo) ---
FROM runtime-base AS demo
COPY --chown=8888:8888 artifacts/v1 /mnt/models

# ---- runtime (default target): no artifacts; models come through modelUri ------------
FROM runtime-base AS runtime

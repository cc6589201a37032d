# containerz-py server image. It talks to the Docker engine of the device it runs on, so mount
# that engine's socket and a data directory:
#   docker build -t containerz-py .
#   docker run -d --name containerz --network host --restart unless-stopped \
#     -v /var/run/docker.sock:/var/run/docker.sock -v /var/lib/containerz:/var/lib/containerz containerz-py
# BASE is any Debian 12 (bookworm) image; the test suite passes one it builds with debootstrap,
# since it cannot pull from a registry. An optional extra-ca.pem in the build context is a CA
# bundle for pip to trust (a build behind a TLS-intercepting proxy); it is not kept in the image's
# last layer.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/containerz
RUN python3 -m venv /opt/containerz/venv
COPY pyproject.toml README.md server.py extra-ca.pe[m] ./
COPY containerz ./containerz
COPY state ./state
COPY protos ./protos
RUN if [ -f extra-ca.pem ]; then export PIP_CERT=/opt/containerz/extra-ca.pem; fi \
    && /opt/containerz/venv/bin/pip install --no-cache-dir . \
    && rm -f extra-ca.pem

ENV CONTAINERZ_LISTEN="[::]:9339" \
    CONTAINERZ_DOCKER_HOST="unix:///var/run/docker.sock" \
    CONTAINERZ_DATA_DIR="/var/lib/containerz" \
    CONTAINERZ_LOG_FORMAT="json"
EXPOSE 9339
VOLUME ["/var/lib/containerz"]
# The server must reach the engine socket, which is root's: it runs as root inside the container.
ENTRYPOINT ["/opt/containerz/venv/bin/python", "server.py"]

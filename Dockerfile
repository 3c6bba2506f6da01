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

# Runtime stage: only the installed wheels, running as a non-root user.
FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 grover
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels grover==0.1.0 \
    && rm -rf /wheels
USER 10001
WORKDIR /home/grover
ENV GROVER_HOST=0.0.0.0 \
    GROVER_DATA_DIR=/home/grover/var \
    PYTHONUNBUFFERED=1
EXPOSE 8765 8080
HEALTHCHECK --interval=15s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2)"]
ENTRYPOINT ["grover"]
CMD ["serve"]

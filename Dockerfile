# rollback-receiver image (and the demo service of docker-compose.yml), Debian 12 "bookworm".
#   docker build -t rollback-receiver .                       the receiver (the last stage, the default)
#   docker build --target demo-service -t demo-service .      the demo service of the stack
# Both run as a non-root user. The receiver reads its configuration from /app/config/receiver.yml by
# default: mount your own (with auth tokens and listen_address 0.0.0.0:9095) over /app/config; its
# ledger lives in the volume /var/lib/rollback-receiver.

# ---- build: the same Debian packages as scripts/install-deps.sh, no vendored code
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev nlohmann-json3-dev libyaml-cpp-dev \
      libspdlog-dev doctest-dev libsqlite3-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY receiver/ receiver/
COPY tests/ tests/
COPY examples/ examples/
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j "$(nproc)" --target rollback-receiver demo-service

# ---- the runtime libraries both binaries link (ldd), and curl for HEALTHCHECK and the demo's scripts
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcpp-httplib0.11 libssl3 libbrotli1 zlib1g \
      libyaml-cpp0.7 libspdlog1.10 libfmt9 libsqlite3-0 libpq5 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# ---- the demo service (docker-compose.yml builds this target)
FROM runtime AS demo-service
RUN useradd --system --uid 10002 --no-create-home --shell /usr/sbin/nologin demo
COPY --from=build /src/build/bin/demo-service /usr/local/bin/demo-service
USER demo
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/-/healthy || exit 1
ENTRYPOINT ["/usr/local/bin/demo-service"]
CMD ["--listen=0.0.0.0:8080", "--service=demo", "--version=v1"]

# ---- the receiver (default target)
FROM runtime AS receiver
RUN useradd --system --uid 10001 --home-dir /var/lib/rollback-receiver --shell /usr/sbin/nologin rollback \
 && mkdir -p /var/lib/rollback-receiver /app/config/data \
 && chown rollback:rollback /var/lib/rollback-receiver /app/config/data
COPY --from=build /src/build/bin/rollback-receiver /usr/local/bin/rollback-receiver
# The example configuration and its example action; replace them by mounting your own /app/config.
COPY config/receiver.yml /app/config/receiver.yml
COPY config/scripts/ /app/config/scripts/
WORKDIR /app
USER rollback
VOLUME ["/var/lib/rollback-receiver"]
EXPOSE 9095
# The address of the healthcheck is the default listen_address; change both together.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9095/-/healthy || exit 1
ENTRYPOINT ["/usr/local/bin/rollback-receiver"]
CMD ["--config.file=/app/config/receiver.yml", "--ledger.path=/var/lib/rollback-receiver/ledger.db"]

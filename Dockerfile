# leadgate in a container: the fully optimised `dist` build, run as a
# non-root user with its SQLite store on the /data volume.
#
#   docker build -t leadgate .
#   docker run -p 8080:8080 -v leadgate-data:/data leadgate
#
# The image's settings (/etc/leadgate/leadgate.toml) are the example
# configuration listening on all interfaces; mount your own over them.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked --bin leadgate \
 && cp target/dist/leadgate /usr/local/bin/leadgate

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin leadgate \
 && mkdir -p /data /etc/leadgate \
 && chown leadgate:leadgate /data
COPY --from=build /usr/local/bin/leadgate /usr/local/bin/leadgate
COPY deploy/leadgate.example.toml /etc/leadgate/leadgate.toml
ENV LEADGATE__SERVER__LISTEN=0.0.0.0:8080 \
    LEADGATE__STORE__PATH=/data/leadgate.db \
    LEADGATE_LOG_FORMAT=json
USER leadgate
VOLUME ["/data"]
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["leadgate"]
CMD ["serve", "--config", "/etc/leadgate/leadgate.toml"]

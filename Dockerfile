# syntax=docker/dockerfile:1
#
# syncwatch's container image: one static binary on a distroless base, run
# as a non-root user. Built without cgo: the binary loads libchdb (the
# embedded engine) only when no ClickHouse server is configured, so the
# image always talks to a server through SYNCWATCH_CLICKHOUSE_DSN (as
# docker-compose.yml configures it).
#
#   docker build -t syncwatch --build-arg VERSION=$(git describe --always) .

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags "-s -w -X main.version=${VERSION}" -o /out/syncwatch ./cmd/syncwatch \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/syncwatch /usr/local/bin/syncwatch
# The spool (and nothing else: the database is the server) lives here; a
# named volume mounted on it starts with this owner.
COPY --from=build --chown=65532:65532 /out/data /var/lib/syncwatch
USER 65532:65532
ENV SYNCWATCH_LISTEN=0.0.0.0:8080 \
    SYNCWATCH_DATA_DIR=/var/lib/syncwatch \
    SYNCWATCH_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/syncwatch"]
# The image has no shell or curl: syncwatch asks its own /readyz on the
# port of SYNCWATCH_LISTEN.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/syncwatch", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/syncwatch"]
CMD ["serve"]

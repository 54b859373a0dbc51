# syntax=docker/dockerfile:1
#
# The plugs binary in an image with nothing else: built static (pure Go:
# SQLite is modernc.org/sqlite, PostgreSQL is pgx), run as a non-root user on
# distroless. One image serves every subcommand:
#
#   docker build -t plugs --build-arg VERSION=$(git describe --always) .
#   docker run --rm plugs controlplane -h
#   docker run --rm -p 8080:8080 -p 8081:8081 -v plugs:/var/lib/plugs plugs dev \
#     --http-addr 0.0.0.0:8081 --ingest-addr 0.0.0.0:8080 --public-url http://localhost:8080

FROM golang:1.26 AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
# CGO off: a static binary that runs on distroless/static (no libc).
# -trimpath keeps build paths out of the binary, so builds are reproducible.
# The cache mounts keep modules and compiled packages between builds; only
# the modules the binary needs are fetched (not the code generators').
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/plugs ./cmd/plugs \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/plugs /usr/local/bin/plugs
# The data directory (plugs dev's SQLite, embedded NATS and key file; a data
# plane's --snapshot-file) is a volume in production; this one belongs to
# the runtime user so a plain `docker run` can write it too.
COPY --from=build --chown=65532:65532 /out/data /var/lib/plugs
ENV PLUGS_DATA_DIR=/var/lib/plugs
WORKDIR /var/lib/plugs
# Numeric, so Kubernetes' runAsNonRoot can verify it without a passwd file.
USER 65532:65532
# 8080 ingest (data plane), 8081 REST and 9090 gRPC (control plane).
EXPOSE 8080 8081 9090
ENTRYPOINT ["/usr/local/bin/plugs"]
CMD ["--help"]

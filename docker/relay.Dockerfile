# ipcmesh-relay: the sidecar the webhook injects into every selected Pod. Distroless: the relay,
# the libraries it loads and a passwd naming user 65532; nothing to exec into, nothing to write
# (runs with readOnlyRootFilesystem). The webhook passes only `args`, so the relay is the
# ENTRYPOINT.
#
# BINARIES is an image holding /images/<name>/ as docker/stage-images.sh lays it out: by default
# the one docker/build.Dockerfile builds from source (docs/images.md); `make images` passes one
# made from the binaries `make` built.
ARG BINARIES=ipcmesh/build:0.1.0
FROM ${BINARIES} AS binaries

FROM scratch
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ipcmesh-relay" \
      org.opencontainers.image.description="ipcmesh relay sidecar: creates, guards, bridges and measures IPC channels" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=binaries /images/relay/ /
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ipcmesh-relay"]

# ipcmesh-tools: ipcmeshctl (also as kubectl-ipcmesh, the kubectl plugin) and the example
# programs, for the examples' app containers and for `kubectl exec` debugging, so it keeps
# Debian's shell and coreutils. See relay.Dockerfile for BINARIES.
ARG BINARIES=ipcmesh/build:0.1.0
FROM ${BINARIES} AS binaries

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ipcmesh-tools" \
      org.opencontainers.image.description="ipcmeshctl and the ipcmesh example programs" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=binaries /images/tools/ /
RUN ldconfig && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /bin/bash nonroot \
 && ipcmeshctl --help >/dev/null \
 && kubectl-ipcmesh --help | grep -q 'Usage: kubectl ipcmesh'
USER 65532:65532
CMD ["ipcmeshctl", "--help"]

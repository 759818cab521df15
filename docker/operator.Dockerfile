# ipcmesh-operator: the IpcChannel controller and the Pod admission webhook. Distroless, like the
# relay (see relay.Dockerfile for BINARIES). The chart runs it with `--config FILE`.
ARG BINARIES=ipcmesh/build:0.1.0
FROM ${BINARIES} AS binaries

FROM scratch
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ipcmesh-operator" \
      org.opencontainers.image.description="ipcmesh operator: IpcChannel controller and Pod admission webhook" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=binaries /images/operator/ /
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ipcmesh-operator"]

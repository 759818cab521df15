# Builds ipcmesh from source inside Docker, for users without the toolchain, and lays out what
# the three images take (docker/stage-images.sh) under /images. The image Dockerfiles copy from it:
#
#   docker build -f docker/build.Dockerfile -t ipcmesh/build:0.1.0 .
#   docker build -f docker/relay.Dockerfile    -t ipcmesh/relay:0.1.0    docker
#   docker build -f docker/operator.Dockerfile -t ipcmesh/operator:0.1.0 docker
#   docker build -f docker/tools.Dockerfile    -t ipcmesh/tools:0.1.0    docker
#
# (`make images-from-source` runs exactly these.)
FROM debian:bookworm-slim AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build pkg-config binutils \
      libcpprest-dev libyaml-cpp-dev libspdlog-dev nlohmann-json3-dev prometheus-cpp-dev \
      libexpected-dev libssl-dev libboost-dev libcli11-dev >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY command_line command_line
COPY sidecar sidecar
COPY operator operator
COPY examples examples
COPY cli cli
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DIPCMESH_BUILD_TESTS=OFF \
      -DIPCMESH_BUILD_BENCH=OFF \
 && cmake --build /build -j "$(nproc)" --target ipcmesh-relay ipcmesh-operator ipcmeshctl \
      ipcmesh-example-pubsub ipcmesh-example-legacy-mq-sender ipcmesh-example-legacy-mq-receiver
COPY docker/stage-images.sh /usr/local/bin/
RUN stage-images.sh /build/bin /images

FROM scratch
COPY --from=build /images /images

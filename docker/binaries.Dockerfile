# `make images`: wraps the image roots that docker/stage-images.sh laid out from the binaries
# `make` built (the build context), so the image Dockerfiles take them as their BINARIES.
FROM scratch
COPY . /images/

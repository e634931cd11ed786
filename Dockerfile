# echod container image: multi-stage, Debian 12 (bookworm).
#
#   docker build -t echod .
#   docker run --rm -p 7007:7007 echod
#   docker run --rm echod --help                  # ENTRYPOINT is echod; args replace CMD
#
# Without a Docker engine (the way CI / a dev box checks it):
#   scripts/docker-base.sh                        # debian:bookworm-slim from debootstrap
#   buildah --storage-driver vfs bud --isolation chroot --pull=never --format docker -t echod .
# (--format docker: the OCI image format has no HEALTHCHECK, buildah drops it otherwise.)
# scripts/docker-check.sh does that build, then runs the image: HEALTHCHECK passes, SIGTERM exits 0.
#
# io_uring and Docker: Docker's default seccomp profile blocks io_uring_setup, io_uring_enter
# and io_uring_register, so with "backend": "auto" echod finds io_uring unavailable and falls
# back to epoll (correct, just the other backend). To get io_uring in a container, either
#   docker run --security-opt seccomp=unconfined -p 7007:7007 echod
# or, better, deploy/seccomp/echod-seccomp.json: an allowlist of the calls echod and echoload
# make, io_uring's included (tests/deploy runs both under it):
#   docker run --security-opt seccomp=deploy/seccomp/echod-seccomp.json -p 7007:7007 echod
# (the host kernel must allow io_uring too: sysctl kernel.io_uring_disabled=0 on Linux >= 6.6).

# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS build

# Builds only what the image ships, echod and echoload. The test suites are CI's job on the host
# (.ci/run): some need tools the image has no use for (node, npm modules, gnuplot, nginx), and
# the last stage checks what matters for the image: its libraries and its config.
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ meson ninja-build pkg-config \
      liburing-dev libboost-context-dev nlohmann-json3-dev libcli11-dev \
      libfmt-dev libspdlog-dev zlib1g-dev libsystemd-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

RUN meson setup /build --buildtype=release -Dwerror=false -Dtests=disabled -Dbenchmarks=disabled \
 && ninja -C /build server/echod client/echoload

# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries only (libstdc++6 / libgcc-s1 / libc6 are in the base image).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      liburing2 libboost-context1.74.0 libfmt9 libspdlog1.10 libsystemd0 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt/* /var/log/dpkg.log \
 && useradd --system --uid 999 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin echod

COPY --from=build /build/server/echod      /usr/local/bin/echod
COPY --from=build /build/client/echoload   /usr/local/bin/echoload
COPY --from=build /src/config/echod.json   /etc/echod/echod.json

# Fail the build, not the first `docker run`, if a shared library is missing or the shipped
# config does not validate.
RUN ! ldd /usr/local/bin/echod /usr/local/bin/echoload | grep 'not found' \
 && echod --check-config -c /etc/echod/echod.json

USER echod
EXPOSE 7007

# echod answers each message with its uppercase; echoload exits 0 only if every reply was right
# (1 connection, 1 message; its own --timeout stays below HEALTHCHECK's so it reports the error).
# If you change "listen" or "service" in the config, change this line too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD echoload -t 1 -c 1 --messages 1 --timeout 2s --progress off --expect upper 127.0.0.1:7007 || exit 1

ENTRYPOINT ["echod"]
CMD ["-c", "/etc/echod/echod.json"]

#!/usr/bin/env bash
# Builds the Dockerfile and runs the image without a container engine, as a new user would check it:
#   scripts/docker-check.sh [--no-build]   as root; needs buildah (apt-get install buildah) and the base
#                                    image from scripts/docker-base.sh
# 1. buildah bud (vfs storage, chroot isolation, no pull): the build runs the unit and integration
#    suites (ECHOD_TEST_SUITES, passed through as a build argument when set);
# 2. starts the image's ENTRYPOINT and CMD as its USER, chrooted into its root file system, in a
#    network namespace of its own (so its fixed port meets nobody's);
# 3. runs its HEALTHCHECK command there, which must pass (retried for the start period);
# 4. sends SIGTERM, which must end it with exit status 0.
# Prints the time of each step. Exit 0 when all four held. `--no-build` skips step 1 and checks
# the echod image already in buildah's storage.
set -euo pipefail
build=yes
[[ ${1:-} != --no-build ]] || build=""

cd "$(dirname "$0")/.."
command -v buildah >/dev/null || { echo "docker-check: buildah is missing: apt-get install buildah" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "docker-check: needs root (chroot, network namespace)" >&2; exit 2; }
buildah=(buildah --storage-driver vfs)
"${buildah[@]}" inspect --type image debian:bookworm-slim >/dev/null 2>&1 ||
  { echo "docker-check: no debian:bookworm-slim image: run scripts/docker-base.sh first" >&2; exit 2; }
step_start=$SECONDS
step() { echo "docker-check: $1 ($((SECONDS - step_start)) s)" >&2; step_start=$SECONDS; }

# --format docker keeps HEALTHCHECK (OCI images have none); buildah's RUN default of 1024 fds is
# too few for the socket tests.
if [[ -n $build ]]; then
  build_args=()
  [[ -z ${ECHOD_TEST_SUITES+x} ]] || build_args=(--build-arg "ECHOD_TEST_SUITES=$ECHOD_TEST_SUITES")
  "${buildah[@]}" bud --isolation chroot --pull=never --format docker --ulimit nofile=20000:20000 \
    "${build_args[@]}" -t echod . >/tmp/echod-docker-build.log 2>&1 ||
    { tail -n 50 /tmp/echod-docker-build.log >&2; echo "docker-check: build failed (log: /tmp/echod-docker-build.log)" >&2; exit 1; }
  step "built echod"
fi
echo "docker-check: image echod: $("${buildah[@]}" images --format '{{.Size}}' echod)" >&2

# The image's own settings, not copies of the Dockerfile's.
config=$("${buildah[@]}" inspect --type image echod)
field() { python3 -c 'import json,sys; c=json.load(sys.stdin)["Docker"]["config"]; print(eval(sys.argv[1]))' "$1" <<<"$config"; }
mapfile -t command < <(field '"\n".join((c.get("Entrypoint") or []) + (c.get("Cmd") or []))')
user=$(field 'c.get("User") or "root"')
mapfile -t env < <(field '"\n".join(c.get("Env") or [])')
health=$(field '" ".join(c["Healthcheck"]["Test"][1:]) if c.get("Healthcheck") else ""')
[[ -n $health ]] || { echo "docker-check: the image has no HEALTHCHECK" >&2; exit 1; }

ctr=$("${buildah[@]}" from --pull=never echod)
pid=""
cleanup() {
  [[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null || true
  "${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT
root=$("${buildah[@]}" mount "$ctr")
ids=$(awk -F: -v u="$user" '$1 == u || $3 == u {print $3 ":" $4}' "$root/etc/passwd")
[[ -n $ids ]] || { echo "docker-check: user $user is not in the image" >&2; exit 1; }

log=$(mktemp)
unshare --net sh -c 'ip link set lo up && exec "$@"' sh \
  env -i "${env[@]}" chroot --userspec="$ids" "$root" "${command[@]}" 2>"$log" &
pid=$!
passed=""
for _ in $(seq 30); do
  if nsenter --net="/proc/$pid/ns/net" env -i "${env[@]}" chroot --userspec="$ids" "$root" sh -c "$health" >/dev/null 2>&1; then
    passed=yes
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
[[ -n $passed ]] || { cat "$log" >&2; echo "docker-check: the HEALTHCHECK did not pass: $health" >&2; exit 1; }
step "the image runs as $user ($ids) and its HEALTHCHECK passes"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[[ $status -eq 0 ]] || { cat "$log" >&2; echo "docker-check: exit status $status after SIGTERM" >&2; exit 1; }
step "SIGTERM: exit 0"
rm -f "$log"

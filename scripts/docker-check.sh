#!/usr/bin/env bash
# Builds the Dockerfile and runs the image without a container engine, as a new user would check it:
#   scripts/docker-check.sh [--no-build | --fresh]   as root; needs buildah (apt-get install buildah,
#                                    or ECHOD_SETUP_DOCKER=1 scripts/setup.sh) and the base image
#                                    from scripts/docker-base.sh
# 1. buildah bud (vfs storage, chroot isolation, no pull): builds echod and echoload, release;
# 2. starts the image's ENTRYPOINT and CMD as its USER, chrooted into its root file system, in a
#    network namespace of its own (so its fixed port meets nobody's);
# 3. runs its HEALTHCHECK command there, which must pass (retried for the start period);
# 4. sends SIGTERM, which must end it with exit status 0.
# Prints the time of each step. Exit 0 when all four held. `--no-build` skips step 1 and checks
# the echod image already in buildah's storage. `--fresh` (CI) first makes the base image with
# scripts/docker-base.sh, and at exit, pass or fail, removes what the check made: both images,
# the build's intermediate ones, and its container.
set -euo pipefail
build=yes fresh=""
case ${1:-} in
  "") ;;
  --no-build) build="" ;;
  --fresh) fresh=yes ;;
  *) echo "docker-check: unknown argument $1 (--no-build or --fresh)" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
command -v buildah >/dev/null || { echo "docker-check: buildah is missing: apt-get install buildah" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "docker-check: needs root (chroot, network namespace)" >&2; exit 2; }
buildah=(buildah --storage-driver vfs)
step_start=$SECONDS
step() { echo "docker-check: $1 ($((SECONDS - step_start)) s)" >&2; step_start=$SECONDS; }

ctr="" pid="" log=""
cleanup() {
  [[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null || true
  [[ -z $ctr ]] || "${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true
  [[ -z $log ]] || rm -f "$log"
  if [[ -n $fresh ]]; then
    "${buildah[@]}" rmi -f echod debian:bookworm-slim >/dev/null 2>&1 || true
    "${buildah[@]}" rmi --prune >/dev/null 2>&1 || true  # the build stage's image, untagged
  fi
}
trap cleanup EXIT

if [[ -n $fresh ]]; then
  scripts/docker-base.sh
  step "made the base image"
fi
"${buildah[@]}" inspect --type image debian:bookworm-slim >/dev/null 2>&1 ||
  { echo "docker-check: no debian:bookworm-slim image: run scripts/docker-base.sh first" >&2; exit 2; }

# --format docker keeps HEALTHCHECK (OCI images have none). The log stays only when the build fails.
if [[ -n $build ]]; then
  log=$(mktemp /tmp/echod-docker-build.XXXXXX)
  "${buildah[@]}" bud --isolation chroot --pull=never --format docker -t echod . >"$log" 2>&1 ||
    { tail -n 50 "$log" >&2; echo "docker-check: build failed (log: $log)" >&2; log=""; exit 1; }
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
root=$("${buildah[@]}" mount "$ctr")
ids=$(awk -F: -v u="$user" '$1 == u || $3 == u {print $3 ":" $4}' "$root/etc/passwd")
[[ -n $ids ]] || { echo "docker-check: user $user is not in the image" >&2; exit 1; }

[[ -z $log ]] || rm -f "$log"
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

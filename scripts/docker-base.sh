#!/usr/bin/env bash
# Makes the Dockerfile's base image, debian:bookworm-slim, where no registry can be reached: a
# debootstrap --variant=minbase of bookworm from this machine's apt mirror, slimmed the way the
# official slim image is, committed into buildah's vfs storage as debian:bookworm-slim (the name
# the Dockerfile's FROM lines use, so `buildah bud --pull=never` finds it).
#   scripts/docker-base.sh            as root; needs debootstrap and buildah (apt-get install
#                                     debootstrap buildah); a second run replaces the image
set -euo pipefail
for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null || { echo "docker-base: $tool is missing: apt-get install debootstrap buildah" >&2; exit 2; }
done
[[ $(id -u) -eq 0 ]] || { echo "docker-base: debootstrap needs root" >&2; exit 2; }
buildah=(buildah --storage-driver vfs)

# The mirror: the first Debian URI of this machine's apt sources (deb822 or one-line format).
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1 || true)
[[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $3 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d /var/tmp/echod-base.XXXXXX)
ctr=""
cleanup() {
  [[ -z $ctr ]] || "${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$root" "$root.log"
}
trap cleanup EXIT

echo "docker-base: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || { cat "$root.log" >&2; exit 1; }

# Slim, as the official image (debuerreotype's slimify): no docs, man pages or locales now, nor
# after later `apt-get install`s; no package cache, lists or logs; no services started in builds.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/* "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
  "$root"/var/log/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
# apt inside the image uses the same mirror, as the official image uses deb.debian.org.
rm -f "$root/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null ||
  printf 'deb %s bookworm main\n' "$mirror" >"$root/etc/apt/sources.list"
: >"$root/etc/hostname"
echo "docker-base: root file system $(du -sh "$root" | cut -f1)" >&2

"${buildah[@]}" rmi -f debian:bookworm-slim >/dev/null 2>&1 || true
ctr=$("${buildah[@]}" from scratch)
mnt=$("${buildah[@]}" mount "$ctr")
cp -a "$root/." "$mnt/"
"${buildah[@]}" umount "$ctr" >/dev/null
"${buildah[@]}" config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --os linux --arch "$(dpkg --print-architecture)" "$ctr"
"${buildah[@]}" commit --quiet "$ctr" debian:bookworm-slim >/dev/null
echo "docker-base: committed debian:bookworm-slim ($("${buildah[@]}" images --format '{{.Size}}' debian:bookworm-slim))" >&2

#!/bin/bash
# Builds samples/hello and runs it: the README's first command. Needs root (namespaces, overlayfs).
# The busybox base comes from Docker Hub when it is reachable; offline, it is made from the host's busybox-static
# and imported into the store as docker.io/library/busybox:latest.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tb() { "$repo/bin/tsbuild" "$@"; }

if [ ! -x /bin/busybox ] || ! /bin/busybox --list >/dev/null 2>&1; then
  echo "installing busybox-static (for an offline busybox base)" >&2
  apt-get install -y busybox-static >/dev/null
fi

if ! timeout 60 "$repo/bin/tsbuild" pull busybox:latest >/dev/null 2>&1; then
  echo "Docker Hub is not reachable: importing a busybox base made from /bin/busybox" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  root=$work/rootfs
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .
  tb import "$work/rootfs.tar" docker.io/library/busybox:latest >/dev/null
fi

tb build --progress=plain -t hello:latest "$here"
tb run hello:latest

#!/usr/bin/env bash
# Builds (once) a minimal Debian bookworm root that can boot a real systemd with a user manager,
# for tests/systemd_unit.rs. Prints the root's path on stdout. Cached under /var/tmp, keyed by a
# hash of the suite, the package list, the mirror and the recipe's version, so later runs reuse it.
# Needs root and debootstrap; the mirror is the one the host's apt uses.
set -euo pipefail

packages=systemd,dbus,dbus-user-session,libpam-systemd
suite=bookworm
recipe=1  # bump when the steps below change

mirror=""
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -r "$f" ] || continue
  mirror=$(awk '
    /^deb / && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }
    /^URIs:/ && $0 !~ /security/ { print $2; exit }' "$f")
  [ -n "$mirror" ] && break
done
case "$mirror" in
  *debian*) ;;  # another distribution's mirror has no bookworm
  *) mirror=http://deb.debian.org/debian ;;
esac

key=$(printf '%s\n' "$suite" "$packages" "$mirror" "$recipe" | sha256sum | cut -c1-16)
root=/var/tmp/recoverd-ci-root-$key
if [ ! -f "$root/.complete" ]; then
  rm -rf "$root" "$root.partial"
  echo "debootstrap $suite from $mirror into $root (once)" >&2
  debootstrap --variant=minbase --include="$packages" "$suite" "$root.partial" "$mirror" >&2
  # The container's own machine id, and no getty on a console nobody reads.
  rm -f "$root.partial/etc/machine-id"
  chroot "$root.partial" systemd-machine-id-setup >&2
  chroot "$root.partial" systemctl mask console-getty.service getty@tty1.service \
    systemd-networkd-wait-online.service >&2 || true
  chroot "$root.partial" apt-get clean >&2
  touch "$root.partial/.complete"
  mv "$root.partial" "$root"
fi
echo "$root"

#!/usr/bin/env bash
# Prepare a Debian (bookworm) host so that real BitBake + openembedded-core can
# parse metadata (bitbake -p / -e / -g). Used as the reference oracle for Bitzel.
#
# Idempotent; takes no arguments; must run as root.
#   - installs the host tools required by oe-core's HOSTTOOLS / sanity checks
#   - generates the en_US.UTF-8 locale (BitBake switches to it unconditionally)
#   - creates the unprivileged user `bb` (BitBake refuses to run as root)
#   - creates /work/bbwork owned by bb
#
# Environment overrides:
#   BB_USER      (default: bb)
#   BB_WORKDIR   (default: /work/bbwork)
#   BB_EXT_DIR   (default: /work/ext)  -- must be readable by BB_USER
set -euo pipefail

if [[ $# -ne 0 ]]; then
    echo "usage: $0   (no arguments; run as root)" >&2
    exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "$0: must be run as root" >&2
    exit 1
fi

BB_USER=${BB_USER:-bb}
BB_WORKDIR=${BB_WORKDIR:-/work/bbwork}
BB_EXT_DIR=${BB_EXT_DIR:-/work/ext}

export DEBIAN_FRONTEND=noninteractive

# Host packages. The first group is what oe-core's HOSTTOOLS and
# SANITY_REQUIRED_UTILITIES need that a stock Debian image may lack
# (chrpath, cpio, diffstat, gawk were missing on the reference machine);
# the rest is the usual Yocto "Debian host" list, most of it present already.
PACKAGES=(
    chrpath cpio diffstat gawk
    locales
    build-essential gcc g++ make patch perl
    file git wget
    lz4 zstd xz-utils bzip2 gzip unzip tar
    python3
    debianutils procps time
    iputils-ping socat texinfo
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo ">> installing: ${missing[*]}"
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo ">> all packages already installed"
fi

# Locale: BitBake does locale.setlocale(LC_ALL, "en_US.UTF-8") and oe-core's
# sanity check insists on it.
if ! locale -a 2>/dev/null | grep -qiE '^en_US\.utf-?8$'; then
    echo ">> generating en_US.UTF-8 locale"
    sed -i -E 's/^#[[:space:]]*(en_US\.UTF-8 UTF-8)/\1/' /etc/locale.gen
    grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen
    locale-gen
else
    echo ">> en_US.UTF-8 locale present"
fi

# Unprivileged user.
if ! id -u "$BB_USER" >/dev/null 2>&1; then
    echo ">> creating user $BB_USER"
    useradd --create-home --home-dir "/home/$BB_USER" --shell /bin/bash "$BB_USER"
else
    echo ">> user $BB_USER exists"
fi

# Work directory writable by bb.
mkdir -p "$BB_WORKDIR"
chown "$BB_USER:$BB_USER" "$BB_WORKDIR"

# bb must be able to read (and traverse to) the external checkouts.
if [[ -d "$BB_EXT_DIR" ]]; then
    if ! su -s /bin/sh "$BB_USER" -c "test -r '$BB_EXT_DIR' && test -x '$BB_EXT_DIR'"; then
        echo ">> making $BB_EXT_DIR world-readable"
        chmod -R a+rX "$BB_EXT_DIR"
    fi
fi

# BitBake is run by bb with a clean PATH, so it uses the system python3
# (root's pyenv under /root is not accessible). Check it is usable.
py=$(su -s /bin/sh "$BB_USER" -c 'PATH=/usr/local/bin:/usr/bin:/bin command -v python3' || true)
if [[ -z "$py" ]]; then
    echo "$0: no python3 visible to $BB_USER" >&2
    exit 1
fi
echo ">> $BB_USER uses $py ($("$py" --version 2>&1))"

# Sanity: every HOSTTOOLS entry in oe-core's bitbake.conf (no testimage extras).
hosttools="[ ar as awk basename bash bunzip2 bzip2 cat chgrp chmod chown chrpath cmp comm cp cpio
cpp cut date dd diff diffstat dirname du echo egrep env expand expr false fgrep file find flock g++
gawk gcc getconf getopt git grep gunzip gzip head hostname iconv id install ld ldd ln ls make md5sum
mkdir mkfifo mknod mktemp mv nm objcopy objdump od patch perl pr printf pwd python3 pzstd ranlib
readelf readlink realpath rm rmdir rpcgen sed seq sh sha1sum sha224sum sha256sum sha384sum sha512sum
sleep sort split stat strings strip tail tar tee test timeout touch tr true truncate uname uniq unzstd
wc wget which xargs zstd xz"
absent=()
for t in $hosttools; do
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin command -v "$t" >/dev/null 2>&1 || absent+=("$t")
done
if [[ ${#absent[@]} -gt 0 ]]; then
    echo "$0: WARNING: host tools still missing: ${absent[*]}" >&2
    exit 1
fi
echo ">> host ready"

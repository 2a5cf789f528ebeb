#!/usr/bin/env bash
# PostgreSQL major versions other than the system's: each lives in a Debian root of the release
# that ships it (debootstrap), where this repository's own scripts run unchanged.
#   17: Debian 13 "trixie"        18: Debian "forky" (testing; debootstrap's "sid" script)
# Sourced by test.sh and the benchmark. Roots are kept in LAMIN_ROOTS (default
# /var/lib/lamin_branch/roots) and made once; later runs reuse them.
LAMIN_ROOTS=${LAMIN_ROOTS:-/var/lib/lamin_branch/roots}
LAMIN_MIRROR=${LAMIN_MIRROR:-http://deb.debian.org/debian}

# the Debian release that ships a major version as its postgresql-N, or nothing
pg_release() {
    case $1 in
        17) echo trixie ;;
        18) echo forky ;;
    esac
}

pg_root() { echo "$LAMIN_ROOTS/pg$1"; }

# mount what a server and apt need inside the root (idempotent)
pg_root_mounts() {
    local root=$1
    mkdir -p "$root/proc" "$root/dev/shm"
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    mountpoint -q "$root/dev/shm" || mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
}

# pg_root_trust ROOT: the root trusts the certificate authorities added to this system
# (/usr/local/share/ca-certificates), as this system does, e.g. for npm behind a TLS-inspecting
# proxy; a root's ca-certificates package picks them up when it is installed later
pg_root_trust() {
    local root=$1
    compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null || return 0
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    if [ -x "$root/usr/sbin/update-ca-certificates" ]; then
        chroot "$root" /usr/sbin/update-ca-certificates >/dev/null 2>&1 || true
    fi
}

# ensure_pg_root N: a Debian root with postgresql-N, its headers and the build and test tools
ensure_pg_root() {
    local v=$1 rel root apt_opts=()
    rel=$(pg_release "$v")
    [ -n "$rel" ] || { echo "no Debian release known for PostgreSQL $v" >&2; return 1; }
    root=$(pg_root "$v")
    if [ ! -e "$root/.lamin_ready" ]; then
        # apt on this system runs one caller at a time (scripts/setup.sh): the roots of two
        # versions are made at once, while the client tests may install their packages
        command -v debootstrap >/dev/null || {
            flock /var/lock/lamin_branch.apt apt-get update -qq \
                && DEBIAN_FRONTEND=noninteractive flock /var/lock/lamin_branch.apt \
                       apt-get install -y -qq debootstrap >/dev/null; }
        # Debian 12's debootstrap has no script named after the testing release: it is sid's
        [ -e "/usr/share/debootstrap/scripts/$rel" ] || ln -s sid "/usr/share/debootstrap/scripts/$rel"
        rm -rf "$root"
        mkdir -p "$LAMIN_ROOTS"
        debootstrap --variant=minbase "$rel" "$root" "$LAMIN_MIRROR" >"$LAMIN_ROOTS/pg$v.debootstrap.log" 2>&1 \
            || { tail -20 "$LAMIN_ROOTS/pg$v.debootstrap.log" >&2; return 1; }
    fi
    pg_root_mounts "$root"
    if [ ! -e "$root/.lamin_ready" ]; then
        # a testing release's Release file may be past its date between publications
        [ "$rel" = forky ] && apt_opts=(-o Acquire::Check-Valid-Until=false)
        chroot "$root" apt-get "${apt_opts[@]}" update -qq >/dev/null \
            && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get "${apt_opts[@]}" install -y -qq \
                postgresql-"$v" postgresql-server-dev-"$v" gcc make libc6-dev libipc-run-perl >"$LAMIN_ROOTS/pg$v.apt.log" 2>&1 \
            || { tail -20 "$LAMIN_ROOTS/pg$v.apt.log" >&2; return 1; }
        touch "$root/.lamin_ready"
    fi
}

# copy_into_root N DIR: a copy of the repository's files at DIR inside the root (without .git
# and build output); prints the path inside the root
copy_into_root() {
    local root dest
    root=$(pg_root "$1")
    dest=$2
    rm -rf "${root:?}$dest"
    mkdir -p "$root$dest"
    tar -C "$REPO" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude=results \
        --exclude=tmp_check --exclude=output_iso -cf - . | tar -C "$root$dest" -xf -
}

#!/bin/sh
# Runs Debian's pg_createconfig_patroni unchanged, without touching /etc/patroni: in a private mount and UTS
# namespace (root only), /etc/patroni is a bind mount of a scratch directory holding a copy of the shipped
# config.yml.in and a dcs.yml naming etcd3 at ETCD, and the host name is HOSTNAME. Prints the generated file.
#   scripts/debian-createconfig.sh HOSTNAME ETCD [pg_createconfig_patroni options...] VERSION CLUSTER
# e.g. scripts/debian-createconfig.sh node1 127.0.0.1:2379 --hostip=127.0.0.1 --network=127.0.0.0/8 --port=5440 15 demo
set -eu
[ $# -ge 4 ] || { echo "usage: $0 HOSTNAME ETCD [options...] VERSION CLUSTER" >&2; exit 2; }
host=$1 etcd=$2
shift 2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp /etc/patroni/config.yml.in "$scratch/"
printf 'etcd3:\n  hosts: %s\n' "$etcd" > "$scratch/dcs.yml"
unshare -m -u sh -c 'mount --make-rprivate / && mount --bind "$1" /etc/patroni && hostname "$2" && shift 2 &&
  pg_createconfig_patroni "$@" >&2' sh "$scratch" "$host" "$@"
for f in "$scratch"/*.yml; do [ "${f##*/}" = dcs.yml ] || cat "$f"; done

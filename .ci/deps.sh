#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs every Debian 12 package mysqlprobe needs to build, test and bench.
# Used by `make deps`, by both README commands and by .ci/run.
set -e
PKGS="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libpcap-dev pkg-config \
libxxhash-dev libyaml-dev libsimdjson-dev libsnappy-dev libwebsockets-dev libcmocka-dev \
libclang-rt-14-dev iproute2 tcpdump mariadb-server mariadb-client python3 python3-pymysql \
python3-websocket python3-websockets python3-snappy python3-mysqldb prometheus openssl \
libmariadb-dev libcurl4-openssl-dev librdkafka-dev clickhouse-server clickhouse-client kcat \
sysbench procps curl util-linux systemd chromium tmux libncurses-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "deps: installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing

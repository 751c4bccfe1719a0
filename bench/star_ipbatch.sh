#!/usr/bin/env bash
# star-N with ip -batch (see star.lua for the topology): one `ip -batch` for
# the namespaces, one `ip -n sw -batch` for the bridge and every veth pair
# (each created with its host end already in the host's namespace), and one
# `ip -n hI -batch` per host for what only its own namespace can do (address,
# eth0 and lo up). The ring ping is iputils ping; teardown is one more
# `ip -batch`. Prints "ring OK/N build S ping S" (see star.lua).
set -eu
n=$1
t0=$EPOCHREALTIME
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ip4() { echo "10.0.$(($1 / 250)).$(($1 % 250 + 1))"; }

{
  echo "netns add sw"
  for i in $(seq "$n"); do echo "netns add h$i"; done
} >"$W/namespaces"
ip -batch "$W/namespaces"

{
  echo "link add br0 type bridge"
  echo "link set br0 up"
  for i in $(seq "$n"); do
    echo "link add p$i type veth peer name eth0 netns h$i"
    echo "link set p$i master br0 up"
  done
} >"$W/switch"
ip -n sw -batch "$W/switch"

for i in $(seq "$n"); do
  printf 'addr add %s/16 dev eth0\nlink set eth0 up\nlink set lo up\n' "$(ip4 "$i")" | ip -n "h$i" -batch -
done

t1=$EPOCHREALTIME
ok=0
for i in $(seq "$n"); do
  if ip netns exec "h$i" ping -c1 -W1 -q "$(ip4 $((i % n + 1)))" >/dev/null; then ok=$((ok + 1)); fi
done
t2=$EPOCHREALTIME

{
  for i in $(seq "$n"); do echo "netns del h$i"; done
  echo "netns del sw"
} >"$W/teardown"
ip -batch "$W/teardown"
echo "ring $ok/$n build $(awk "BEGIN { print $t1 - $t0 }") ping $(awk "BEGIN { print $t2 - $t1 }")"

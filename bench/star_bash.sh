#!/usr/bin/env bash
# star-N with bash, one ip command per step (see star.lua for the topology).
# The ring ping is iputils ping in the namespace. Prints
# "ring OK/N build S ping S" (see star.lua).
set -eu
n=$1
t0=$EPOCHREALTIME
ip4() { echo "10.0.$(($1 / 250)).$(($1 % 250 + 1))"; }

ip netns add sw
ip -n sw link add br0 type bridge
ip -n sw link set br0 up
for i in $(seq "$n"); do
  ip netns add "h$i"
  ip -n sw link add "p$i" type veth peer name eth0 netns "h$i"
  ip -n sw link set "p$i" master br0
  ip -n sw link set "p$i" up
  ip -n "h$i" addr add "$(ip4 "$i")/16" dev eth0
  ip -n "h$i" link set eth0 up
  ip -n "h$i" link set lo up
done

t1=$EPOCHREALTIME
ok=0
for i in $(seq "$n"); do
  if ip netns exec "h$i" ping -c1 -W1 -q "$(ip4 $((i % n + 1)))" >/dev/null; then ok=$((ok + 1)); fi
done
t2=$EPOCHREALTIME

for i in $(seq "$n"); do ip netns del "h$i"; done
ip netns del sw
echo "ring $ok/$n build $(awk "BEGIN { print $t1 - $t0 }") ping $(awk "BEGIN { print $t2 - $t1 }")"

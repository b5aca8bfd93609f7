#!/bin/bash
# Kills N etcd members (docker kill) for HOLD_S seconds under the writer's load, starts them again,
# and prints the writer's longest gap between acknowledged writes and the errors seen meanwhile.
set -Eeuo pipefail
N=$1 ACKS=$2 HOLD_S=${HOLD_S:-45}
P=kryonix-haspike
now() { date +%s%3N; }
victims=$(for i in 1 2 3; do echo etcd$i; done | head -n "$N")
t0=$(now)
for v in $victims; do docker kill $P-$v >/dev/null; done
sleep "$HOLD_S"
docker exec $P-pg1 patronictl -c /run/postgresql/patroni.yml list 2>&1 | tail -n +1 | head -8 || true
for v in $victims; do docker start $P-$v >/dev/null; done
t1=$(now)
sleep 15
gap=$(awk -v a=$t0 -v b=$(now) '$2 != "ERR" && $1 >= a && $1 <= b { if (p && $1 - p > m) m = $1 - p; p = $1 } END { printf "%.1f", m / 1000 }' "$ACKS")
errs=$(awk -v a=$t0 '$2 == "ERR" && $1 >= a' "$ACKS" | wc -l)
acks=$(awk -v a=$t0 -v b=$t1 '$2 != "ERR" && $1 >= a && $1 <= b' "$ACKS" | wc -l)
echo "$(date -u +%T) etcd-kill n=$N hold_s=$HOLD_S victims=$(echo $victims) longest_gap_s=$gap errors=$errs acks_during=$acks"

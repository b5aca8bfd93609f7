#!/bin/bash
# One measured fault under the writer's load: `pause` (docker pause the leader for PAUSE_S=60 s,
# then unpause), `kill` (docker kill the leader; Docker counts that as
# a manual stop, so the restart policy does NOT bring it back: this script `docker start`s it once a
# new leader is elected), `crash` (SIGKILL to the container's PID 1 from the host: the restart policy
# restarts it by itself), `stop` (docker stop: Patroni shuts PostgreSQL down and releases the
# leader key; started again like `kill`) or `switchover` (patronictl switchover). Prints one result line:
#   kind leader->new_leader write_gap_s lost_acked rejoin_s timeline
# write_gap_s: from the fault to the first acknowledged write after it (writer's ack log).
# lost_acked: acknowledged ids (whole run so far) missing on the new leader.
# rejoin_s: from the fault until the old leader is a streaming replica again.
set -Eeuo pipefail
KIND=$1 ACKS=$2
P=kryonix-haspike
SECRETS=${SECRETS:-/tmp/kryonix-haspike-secrets}
now() { date +%s%3N; }
members() {
  local n
  for n in pg1 pg2 pg3; do
    if out=$(docker exec $P-$n patronictl -c /run/postgresql/patroni.yml list -f json 2>/dev/null); then echo "$out"; return; fi
  done
  echo '[]'
}
leader() { members | jq -r '.[] | select(.Role=="Leader") | .Member'; }
healthy() { # one leader, two streaming replicas, one of them sync
  members | jq -e '([.[] | select(.Role=="Leader" and .State=="running")] | length == 1)
    and ([.[] | select(.State=="streaming")] | length == 2)
    and ($sync == "0" or ([.[] | select(.Role=="Sync Standby")] | length == 1))' --arg sync "${SYNC:-1}" >/dev/null
}
deadline() { [ $(( $(now) - $1 )) -lt $(( $2 * 1000 )) ]; }

start=$(now); until healthy; do deadline $start 180 || { echo "cluster not healthy before the fault" >&2; exit 1; }; sleep 1; done
old=$(leader)
tl_before=$(members | jq -r '.[] | select(.Role=="Leader") | .TL')
tc=$(now)  # the fault's command issued
case $KIND in
  kill) docker kill $P-$old >/dev/null ;;
  stop) docker stop $P-$old >/dev/null ;;
  pause) docker pause $P-$old >/dev/null ;;
  crash) kill -9 "$(docker inspect -f '{{.State.Pid}}' $P-$old)" ;;
  switchover) docker exec $P-$old patronictl -c /run/postgresql/patroni.yml switchover --leader "$old" --force >/dev/null ;;
  *) echo "kind: kill, crash or switchover" >&2; exit 2 ;;
esac
# After the command returned: any write acknowledged from now on was committed by a new leader
# (patronictl switchover returns once the new leader runs, so for it outage_s is the figure).
t0=$(now)
# First acknowledged write after the fault.
gap=""
until [ -n "$gap" ]; do
  gap=$(awk -v t0=$t0 '$2 != "ERR" && $1 > t0 { printf "%.1f", ($1 - t0) / 1000; exit }' "$ACKS")
  [ -n "$gap" ] || { deadline $t0 120 || { gap=timeout; break; }; sleep 0.2; }
done
new=$(leader); until [ -n "$new" ] && { [ "$new" != "$old" ] || [ "$KIND" = crash ]; }; do deadline $t0 120 || break; sleep 0.5; new=$(leader); done
started=""
if [ "$KIND" = pause ]; then
  while deadline $t0 ${PAUSE_S:-60}; do sleep 0.5; done
  docker unpause $P-$old >/dev/null; started=" unpaused_after_s=$(( ($(now) - t0) / 1000 ))"
fi
if [ "$KIND" = kill ] || [ "$KIND" = stop ]; then docker start $P-$old >/dev/null; started=" started_after_s=$(( ($(now) - t0) / 1000 ))"; fi
# The old leader back as a streaming replica (restart policy brings the container back).
rejoin=""; [ "$new" = "$old" ] && rejoin="n/a(kept-the-lock)"
until [ -n "$rejoin" ]; do
  st=$(members | jq -r --arg m "$old" '.[] | select(.Member==$m) | "\(.Role) \(.State)"')
  case "$st" in Replica\ streaming|Sync\ Standby\ streaming) rejoin=$(( ($(now) - t0) / 100 )); rejoin="${rejoin%?}.${rejoin: -1}" ;; esac
  [ -n "$rejoin" ] || { deadline $t0 180 || { rejoin="no(${st:-absent})"; break; }; sleep 0.5; }
done
tl_after=$(members | jq -r '.[] | select(.Role=="Leader") | .TL')
# Lost: acknowledged ids absent on the new leader (read through the write port).
tq=$(now)
PGPASSFILE=$SECRETS/pgpass psql -h 127.0.0.1 -p 35432 -U postgres -Atqc 'SELECT id FROM ha_probe ORDER BY 1' postgres | sort > /tmp/$P-present
awk -v tq=$tq '$2 != "ERR" && $1 < tq { print $2 }' "$ACKS" | sort > /tmp/$P-acked
lost=$(comm -23 /tmp/$P-acked /tmp/$P-present | wc -l)
acked=$(wc -l < /tmp/$P-acked)
# The writer's longest wait between two acknowledged writes around the fault.
outage=$(awk -v a=$((tc - 500)) -v b=$((t0 + 120000)) '$2 != "ERR" && $1 >= a && $1 <= b { if (p && $1 - p > m) m = $1 - p; p = $1 } END { printf "%.1f", m / 1000 }' "$ACKS")
rewind=$(docker logs --since "$(date -u -d @$((t0/1000)) +%FT%TZ)" $P-$old 2>&1 | grep -ciE 'pg_rewind|rewind' || true)
restarts=$(docker inspect -f '{{.RestartCount}}' $P-$old)
echo "$(date -u +%T) $KIND $old->$new write_gap_s=$gap outage_s=$outage lost_acked=$lost/$acked rejoin_s=$rejoin$started timeline=$tl_before->$tl_after rewind_log_lines=$rewind restarts=$restarts"

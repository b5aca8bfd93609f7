#!/bin/bash
# Starts the spike cluster with plain docker run: 3 etcd, 3 Patroni nodes, HAProxy.
# Published ports on 127.0.0.1 only: 35432 write (leader), 35433 read (replicas), 37000 HAProxy stats.
set -Eeuo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=${IMAGE:-kryonix-haspike/ha:spike}
P=kryonix-haspike
NET=$P-net
SECRETS=${SECRETS:-/tmp/kryonix-haspike-secrets}
ts() { date -u +%T.%3N; }
log() { echo "$(ts) $*" >&2; }

umask 077
mkdir -p "$SECRETS"
for s in superuser replication rewind restapi; do
  [ -s "$SECRETS/$s" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$SECRETS/$s"
done
# The host-side clients (writer, failover.sh) read the superuser password from these files.
echo "127.0.0.1:35432:*:postgres:$(cat "$SECRETS/superuser")" > "$SECRETS/pgpass"

render() {
  sed -e "s/@NAME@/$1/g" \
      -e "s/@SUPERUSER_PASSWORD@/$(cat "$SECRETS/superuser")/" \
      -e "s/@REPLICATION_PASSWORD@/$(cat "$SECRETS/replication")/" \
      -e "s/@REWIND_PASSWORD@/$(cat "$SECRETS/rewind")/" \
      -e "s/@RESTAPI_PASSWORD@/$(cat "$SECRETS/restapi")/" \
      "$HERE/patroni.yml.tmpl" > "$SECRETS/patroni-$1.yml"
}

docker network inspect $NET >/dev/null 2>&1 || docker network create $NET >/dev/null
docker volume create $P-repo >/dev/null

t0=$(date +%s.%N)
CLUSTER=etcd1=http://$P-etcd1:2380,etcd2=http://$P-etcd2:2380,etcd3=http://$P-etcd3:2380
for i in 1 2 3; do
  docker volume create $P-etcd$i >/dev/null
  docker run -d --name $P-etcd$i --hostname $P-etcd$i --network $NET --restart unless-stopped \
    -v $P-etcd$i:/var/lib/etcd "$IMAGE" etcd \
    --name etcd$i --data-dir /var/lib/etcd/data \
    --listen-peer-urls http://0.0.0.0:2380 --initial-advertise-peer-urls http://$P-etcd$i:2380 \
    --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://$P-etcd$i:2379 \
    --initial-cluster "$CLUSTER" --initial-cluster-state new --initial-cluster-token $P \
    --heartbeat-interval 100 --election-timeout 1000 \
    --auto-compaction-mode periodic --auto-compaction-retention 1h >/dev/null
done
until docker exec $P-etcd1 etcdctl --endpoints=http://$P-etcd1:2379,http://$P-etcd2:2379,http://$P-etcd3:2379 endpoint health >/dev/null 2>&1; do sleep 0.5; done
log "etcd healthy after $(echo "$(date +%s.%N) - $t0" | bc)s"

start_node() {
  render "$1"
  docker volume create $P-$1 >/dev/null
  docker run -d --name $P-$1 --hostname $P-$1 --network $NET --restart "${RESTART:-always}" --stop-timeout 60 \
    -v $P-$1:/var/lib/postgresql/data -v $P-repo:/var/lib/pgbackrest \
    -v "$SECRETS/patroni-$1.yml:/etc/kryonix/patroni.yml:ro" \
    -v "$HERE/pgbackrest.conf:/etc/kryonix/pgbackrest.conf:ro" \
    "$IMAGE" patroni >/dev/null
}
role() { docker exec $P-$1 curl -s -o /dev/null -w '%{http_code}' "http://localhost:8008/$2" 2>/dev/null || true; }

t1=$(date +%s.%N)
start_node pg1
until [ "$(role pg1 primary)" = 200 ]; do sleep 0.5; done
log "pg1 leader (initdb) after $(echo "$(date +%s.%N) - $t1" | bc)s"
# The repo's volume is root-owned when created.
docker exec $P-pg1 chown postgres:postgres /var/lib/pgbackrest
t2=$(date +%s.%N)
docker exec -u postgres $P-pg1 pgbackrest --stanza=ha stanza-create >/dev/null
docker exec -u postgres $P-pg1 pgbackrest --stanza=ha --type=full backup >/dev/null
log "stanza-create + full backup ${SECONDS}s total, backup $(echo "$(date +%s.%N) - $t2" | bc)s"

t3=$(date +%s.%N)
start_node pg2; start_node pg3
until [ "$(role pg2 replica)" = 200 ] && [ "$(role pg3 replica)" = 200 ]; do sleep 0.5; done
log "pg2, pg3 streaming replicas after $(echo "$(date +%s.%N) - $t3" | bc)s"

docker run -d --name $P-haproxy --hostname $P-haproxy --network $NET --restart unless-stopped \
  -p 127.0.0.1:35432:5000 -p 127.0.0.1:35433:5001 -p 127.0.0.1:37000:7000 \
  -v "$HERE/haproxy.cfg:/etc/kryonix/haproxy.cfg:ro" "$IMAGE" haproxy >/dev/null
until PGPASSWORD=$(cat "$SECRETS/superuser") psql -h 127.0.0.1 -p 35432 -U postgres -Atqc 'select 1' postgres >/dev/null 2>&1; do sleep 0.5; done
log "haproxy write port answers; whole cluster up in $(echo "$(date +%s.%N) - $t0" | bc)s"
docker exec $P-pg1 patronictl -c /run/postgresql/patroni.yml list

#!/bin/bash
# Removes every container, volume and network of the spike (all named kryonix-haspike-*).
P=kryonix-haspike
ids=$(docker ps -aq --filter name=^/$P-)
[ -n "$ids" ] && docker rm -f $ids >/dev/null
vols=$(docker volume ls -q --filter name=^$P-)
[ -n "$vols" ] && docker volume rm $vols >/dev/null
docker network rm $P-net >/dev/null 2>&1
rm -rf /tmp/kryonix-haspike-secrets
docker ps -a --filter name=$P --format '{{.Names}}'; docker volume ls -q --filter name=$P; docker network ls -q --filter name=$P

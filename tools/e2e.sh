#!/usr/bin/env bash
# `make e2e`: the docker-compose stack, for real. For the default profile, then for
# `--profile dynamodb`: build and start it, wait until every container's health check reports
# healthy, check the images hold the versions constraints.txt pins, run create / read / audit /
# delete with the CLI from the host against each server, check that no log line holds the
# value, and tear the stack down, on failure and Ctrl-C too.
#
# Needs a Docker daemon and Compose: `docker compose`, else `docker-compose` (COMPOSE="..."
# picks one). The published ports are free ones, and the project and image tags are this
# checkout's own, so a stack started by hand (or by another checkout) is left alone. The images
# stay, as after `docker compose build`, so the next run starts from the build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=.venv/bin/piinguin PY=.venv/bin/python
LOG=${TMPDIR:-/tmp}/piinguin-e2e.log
say() { echo "e2e: $*"; }
die() { echo "e2e: error: $*" >&2; exit 1; }

if [ -n "${COMPOSE:-}" ]; then read -ra compose <<< "$COMPOSE"
elif docker compose version > /dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose > /dev/null; then compose=(docker-compose)
else die "needs Docker Compose: neither 'docker compose' nor 'docker-compose' works"; fi
docker info > /dev/null 2>&1 || die "no Docker daemon answers ('docker info' fails)"
[ -x "$CLI" ] || die "$CLI is missing: 'make e2e' installs it"

name=$(basename "$PWD" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_\n' '-')
export COMPOSE_PROJECT_NAME="piinguin-e2e-$name" PIINGUIN_IMAGE_TAG="e2e-$name"
read -r PIINGUIN_HOST_PORT PIINGUIN_DYNAMODB_HOST_PORT MOTO_HOST_PORT PIINGUIN_METRICS_HOST_PORT \
  < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
export PIINGUIN_HOST_PORT PIINGUIN_DYNAMODB_HOST_PORT MOTO_HOST_PORT PIINGUIN_METRICS_HOST_PORT

everything=("${compose[@]}" --profile dynamodb)  # every service, so `down` removes them all
down() { "${everything[@]}" down --volumes --remove-orphans --timeout 20 >> "$LOG" 2>&1 || true; }
fail() {  # the stack's last log lines, then stop
  echo "e2e: error: $*" >&2
  "${everything[@]}" logs --no-color --tail 20 >&2 2>&1 || true
  exit 1
}
trap down EXIT
trap 'exit 130' INT TERM
: > "$LOG"

# Every container of the stack healthy within $1 seconds, or fail naming the one that is not.
wait_healthy() {
  local limit=$1 start=$SECONDS ids id service status health pending
  shift
  ids=$("${compose[@]}" "$@" ps -q)
  [ -n "$ids" ] || fail "no container started"
  while :; do
    pending=''
    for id in $ids; do
      read -r service status health < <(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
      case "$status $health" in
        "running healthy") ;;
        "running starting") pending="$pending $service" ;;
        *" none") fail "$service has no health check" ;;
        *) fail "$service is $status (health: $health)" ;;
      esac
    done
    [ -z "$pending" ] && break
    (( SECONDS - start < limit )) || fail "not healthy after $limit s:$pending"
    sleep 1
  done
  say "  healthy after $(( SECONDS - start )) s: $(for id in $ids; do docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id"; done | sort | tr '\n' ' ')"
}

# The image's installed distributions against constraints.txt.
check_versions() {  # IMAGE REQUIREMENT
  docker run --rm --entrypoint pip "$1" freeze 2>> "$LOG" \
    | "$PY" -m tools.constraints --check-freeze - "$2" | sed 's/^/e2e:   /' \
    || fail "$1 does not hold the versions constraints.txt pins"
}

# create / read / audit / delete from the host, with the CLI.
round_trip() {  # SERVICE PORT [--pseudonym]
  local piinguin=("$CLI" --target "127.0.0.1:$2") key value got audit code logs
  key=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')  # a SHA-256 pseudonym's shape
  value="e2e-canary-$RANDOM$RANDOM@example.org"
  "${piinguin[@]}" create "$key" "$value" --field-name user_id --app-id e2e \
    || fail "$1: create failed"
  got=$("${piinguin[@]}" read "$key" --basis consent --purpose "e2e round trip") \
    || fail "$1: read failed"
  [ "$got" = "$value" ] || fail "$1: read gave another value"
  audit=$("${piinguin[@]}" audit --key "$key") || fail "$1: audit failed"
  "$PY" -c 'import json, sys
events = [json.loads(line) for line in sys.stdin if line.strip()]
sys.exit(not any(e["operation"] == "read" and e["purpose"] == "e2e round trip" for e in events))' \
    <<< "$audit" || fail "$1: the audit log has no event for the read: $audit"
  "${piinguin[@]}" delete "$key" || fail "$1: delete failed"
  code=0; "${piinguin[@]}" read "$key" --basis consent --purpose "e2e round trip" \
    > /dev/null 2>&1 || code=$?
  [ "$code" = 1 ] || fail "$1: read after delete exited $code, not 1 (not found)"
  subject_rights "$1" "$2" "$key" "$value" "${3:-}"
  logs=$("${everything[@]}" logs --no-color "$1")
  grep -q 'CreatePiiRecord' <<< "$logs" || fail "$1: its log has no line for the create call"
  ! grep -qF "$value" <<< "$logs" || fail "$1: its log holds the original value"
  say "  $1 on 127.0.0.1:$2: create, read, audit, delete: ok; no log line holds the value"
}

# The data-subject acts from the host: find the person by value, erase them with a signed
# receipt, check it, and see a later write of the same pair refused. The value goes in on
# stdin, as the README advises. A service without encryption at rest (and without salts)
# cannot look a value up: there the person is named by pseudonym (--pseudonym).
subject_rights() {  # SERVICE PORT KEY VALUE [--pseudonym]
  local piinguin=("$CLI" --target "127.0.0.1:$2") found receipt code person=(-)
  local justified=(--basis legal-obligation --purpose "e2e DSR-1")
  [ "$5" = --pseudonym ] && person=(--pseudonym "$3")
  "${piinguin[@]}" create "$3" "$4" --field-name user_id --app-id e2e \
    || fail "$1: create before erasure failed"
  found=$("${piinguin[@]}" subject find "${person[@]}" "${justified[@]}" --json <<< "$4") \
    || fail "$1: subject find failed"
  grep -qF "$3" <<< "$found" || fail "$1: subject find did not find the record: $found"
  ! grep -qF "$4" <<< "$found" || fail "$1: subject find answered the original value"
  receipt=$(mktemp -u "${TMPDIR:-/tmp}/piinguin-e2e-receipt.XXXXXX")
  "${piinguin[@]}" subject erase "${person[@]}" "${justified[@]}" --output "$receipt" \
    <<< "$4" > /dev/null \
    || fail "$1: subject erase failed"
  "${piinguin[@]}" subject verify-receipt "$receipt" > /dev/null \
    || fail "$1: the erasure receipt does not verify"
  grep -qF "$3" "$receipt" || fail "$1: the receipt does not name the erased pseudonym"
  ! grep -qF "$4" "$receipt" || fail "$1: the receipt holds the original value"
  rm -f "$receipt"
  code=0; "${piinguin[@]}" create "$3" "$4" > /dev/null 2>&1 || code=$?
  [ "$code" != 0 ] || fail "$1: a write of the erased pair was stored"
  code=0; "${piinguin[@]}" read "$3" "${justified[@]}" > /dev/null 2>&1 || code=$?
  [ "$code" = 1 ] || fail "$1: read after erasure exited $code, not 1 (not found)"
  say "  $1: subject find, erase (receipt verified), the erased pair refused: ok"
}

phase() {  # LABEL LIMIT [--profile P]: up, healthy, versions, round trips, down
  local label=$1 limit=$2 sealer
  shift 2
  say "$label: ${compose[*]}${*:+ $*} up --build (output in $LOG)"
  "${compose[@]}" "$@" up --build --detach >> "$LOG" 2>&1 \
    || { tail -n 30 "$LOG" >&2; fail "$label: up --build failed"; }
  wait_healthy "$limit" "$@"
  check_versions "piinguin:$PIINGUIN_IMAGE_TAG" piinguin
  round_trip piinguin "$PIINGUIN_HOST_PORT"
  # The image's wheel carries the C sealer (its build stage has gcc and libssl-dev).
  # Into a variable first: under pipefail, grep -q leaving early would fail the pipe.
  sealer=$("${everything[@]}" logs --no-color piinguin)
  grep -q '"sealer":"c"' <<< "$sealer" \
    || fail "piinguin: its encryption log line does not say the C sealer runs"
  say "  piinguin: seals with the C sealer"
  "$PY" -c 'import sys, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/metrics"
text = urllib.request.urlopen(url, timeout=5).read().decode()
sys.exit("piinguin_calls_total{" not in text)' "$PIINGUIN_METRICS_HOST_PORT" \
    || fail "piinguin: its /metrics counts no call"
  say "  piinguin: /metrics on 127.0.0.1:$PIINGUIN_METRICS_HOST_PORT counts its calls"
  if [ "$*" = "--profile dynamodb" ]; then
    check_versions "piinguin-moto:$PIINGUIN_IMAGE_TAG" 'moto[server,dynamodb]'
    round_trip piinguin-dynamodb "$PIINGUIN_DYNAMODB_HOST_PORT" --pseudonym
  fi
  down
  [ -z "$("${everything[@]}" ps -q)" ] || fail "$label: containers left after down"
  say "$label: torn down"
}

phase default 120
phase dynamodb 180 --profile dynamodb
say "passed: both profiles built, healthy, served the CLI round trip, and were torn down"

#!/usr/bin/env bash
# Schemathesis (PyPI) against a running `medic serve`: requests generated from the server's own
# /openapi.json (valid ones and invalid ones), every answer checked against the document.
# Fails (exit 1) on any finding. Run from the repository after `swift build` (CI runs it after
# `swift test`, which built .build/debug/medic); MEDIC_BINARY names another binary.
#
#   .ci/schemathesis.sh                 # the pinned version, the fixed seed, 100 examples an operation
#   SCHEMATHESIS_EXAMPLES=200 SCHEMATHESIS_SEED=7 .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
medic=${MEDIC_BINARY:-$root/.build/debug/medic}
version=4.32.5
examples=${SCHEMATHESIS_EXAMPLES:-100}
seed=${SCHEMATHESIS_SEED:-1}

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "schemathesis==$version"

work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill "$server"; wait "$server" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/no-programs" "$work/workdir"
token=$("$medic" token create schemathesis --role admin --tokens "$work/tokens.jsonl" 2>/dev/null)
# Something to read: the kill switch on, then a run of the library that it refuses (journaled,
# nothing executed), so that the run routes answer a real run and not only 404.
"$medic" pause --by schemathesis --reason "nothing of the library runs here" --state-dir "$work/state" >/dev/null
PATH="$work/no-programs" "$medic" run restart-service-001 --mode automated --root "$root" --state-dir "$work/state" >/dev/null 2>&1 || true
# The repository's library, a state of its own, and a PATH with no programs: the generated
# requests may request runs and post alerts, and a step of the library must not act on this
# machine (it finds no systemctl, kubectl or rm, and fails). The rate limit is raised: Schemathesis
# sends thousands of requests a minute under one token.
PATH="$work/no-programs" "$medic" serve --listen 127.0.0.1:0 --root "$root" --state-dir "$work/state" \
    --tokens "$work/tokens.jsonl" --workdir "$work/workdir" --no-rules --rate-limit 1000000 \
    >"$work/serve.out" 2>"$work/serve.err" &
server=$!
url=""
for _ in $(seq 1 600); do
    url=$(sed -n 's/^medic serve: listening on //p' "$work/serve.out")
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "medic serve did not start:" >&2
    cat "$work/serve.err" >&2
    exit 1
fi
# And an incident: an alert no route and no playbook takes (unhandled: nothing starts).
python3 - "$url" "$token" <<'PY'
import json, sys, urllib.request
alert = {"status": "firing", "labels": {"alertname": "SchemathesisSeed", "instance": "nowhere"}, "annotations": {},
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "5eed"}
body = {"version": "4", "groupKey": "{}:{alertname=\"SchemathesisSeed\"}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "medic", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "alerts": [alert]}
request = urllib.request.Request(sys.argv[1] + "/api/v1/alerts", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + sys.argv[2]})
answer = json.load(urllib.request.urlopen(request, timeout=60))
assert answer["incidents"][0]["handling"] == "unhandled", answer
PY
"$medic" runs --state-dir "$work/state" | grep refused >/dev/null || { echo "the seed run is missing" >&2; exit 1; }
echo "medic serve at $url; schemathesis $version, seed $seed, at most $examples examples an operation"

# The checks, and their exceptions, are in .ci/schemathesis.toml.
status=0
schemathesis --config-file .ci/schemathesis.toml run "$url/openapi.json" \
    --header "Authorization: Bearer $token" \
    --max-examples "$examples" --seed "$seed" --generation-database none \
    --request-timeout 60 --workers 1 --no-color || status=$?

if ! kill -0 "$server" 2>/dev/null; then
    echo "medic serve stopped during the run:" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "== the last lines of medic serve's log" >&2
    tail -n 40 "$work/serve.err" >&2
fi
exit "$status"

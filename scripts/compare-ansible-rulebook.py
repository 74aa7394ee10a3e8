#!/usr/bin/env python3
"""The alert storm against medic serve and against ansible-rulebook, in one run (not in CI).

The same storm for both: N (10,000) Alertmanager posts over 50 groups of 3 alerts, each post
sent twice and one in five a third time, shuffled, from C (64) concurrent clients. ansible-rulebook
takes them on its built-in webhook source (eda.builtin.webhook) with a rule throttled
`once_within` per groupKey; medic serve on its webhook with a route to a playbook on the
`instance` label. Reported for each: executions started (one per group is right), every answer
2xx, the acknowledgement latency (p50, p99), and the time from the first post to the first
action (ansible-rulebook: its action's line on standard output; medic: the first step_started
record of a run's journal).

Needs: ansible-rulebook (PyPI; Java 17, Debian openjdk-17-jre-headless), aiohttp (which
ansible-rulebook installs), and a built medic:

    python3 -m venv /tmp/ar && /tmp/ar/bin/pip install ansible-rulebook
    swift build -c release --product medic
    /tmp/ar/bin/python scripts/compare-ansible-rulebook.py --medic .build/release/medic \
        --rulebook /tmp/ar/bin/ansible-rulebook
"""
import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import aiohttp

GROUPS, MEMBERS = 50, 3


def storm(posts, seed):
    rng = random.Random(seed)
    bodies = []
    for index in range(posts):
        group = index % GROUPS
        chosen = {(index // GROUPS) % MEMBERS} | {m for m in range(MEMBERS) if rng.random() < 0.5}
        alerts = [{"status": "firing",
                   "labels": {"alertname": "ServiceDown", "job": f"svc-{group}", "instance": f"host-{group}", "probe": f"p{m}"},
                   "annotations": {}, "startsAt": f"2026-12-06T05:00:00.{m:03d}Z", "endsAt": "0001-01-01T00:00:00Z",
                   "generatorURL": "", "fingerprint": f"{group:08x}{m:08x}"} for m in sorted(chosen)]
        bodies.append(json.dumps({"version": "4", "groupKey": f'{{}}:{{instance="host-{group}", job="svc-{group}"}}',
                                  "truncatedAlerts": 0, "status": "firing", "receiver": "medic", "groupLabels": {},
                                  "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "alerts": alerts}).encode())
    requests = bodies + bodies + [b for b in bodies if rng.random() < 0.2]
    rng.shuffle(requests)
    return requests


async def send(url, requests, clients):
    latencies, statuses = [], {}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        async def worker(start):
            for index in range(start, len(requests), clients):
                sent = time.monotonic()
                async with session.post(url, data=requests[index], headers={"Content-Type": "application/json"}) as response:
                    await response.read()
                    latencies.append((time.monotonic() - sent) * 1000)
                    statuses[response.status] = statuses.get(response.status, 0) + 1
        await asyncio.gather(*(worker(i) for i in range(clients)))
    return latencies, statuses


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port} after {seconds} s")


async def measure(name, url, requests, clients, executions, first_action):
    """Sends the storm while polling for the first action; then waits until the executions settle."""
    start = time.monotonic()
    first = None

    async def watch():
        nonlocal first
        while first is None:
            if first_action():
                first = time.monotonic() - start
            await asyncio.sleep(0.005)

    watcher = asyncio.ensure_future(watch())
    latencies, statuses = await send(url, requests, clients)
    seconds = time.monotonic() - start
    # Executions settle: the count unchanged for 5 s (at most 120 s).
    last, stable_since, deadline = -1, time.monotonic(), time.monotonic() + 120
    while time.monotonic() < deadline:
        count = executions()
        if count != last:
            last, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since > 5:
            break
        await asyncio.sleep(0.2)
    watcher.cancel()
    latencies.sort()
    return {"system": name, "requests": len(requests), "seconds": round(seconds, 1),
            "requests_per_second": round(len(requests) / seconds), "p50_ms": round(latencies[len(latencies) // 2], 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)], 1),
            "answers": {str(k): v for k, v in sorted(statuses.items())}, "executions": last,
            "first_action_s": None if first is None else round(first, 3)}


def run_rulebook(binary, requests, clients, work):
    port = free_port()
    rulebook = os.path.join(work, "storm.yml")
    with open(rulebook, "w") as f:
        f.write(f"""---
- name: alert storm
  hosts: all
  sources:
    - eda.builtin.webhook:
        host: 127.0.0.1
        port: {port}
  rules:
    - name: one execution per alert group
      condition: event.payload.status == "firing"
      throttle:
        once_within: 10 minutes
        group_by_attributes:
          - event.payload.groupKey
      action:
        debug:
          msg: "STORM-EXECUTION {{{{ event.payload.groupKey }}}}"
""")
    inventory = os.path.join(work, "inventory.yml")
    with open(inventory, "w") as f:
        f.write("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    output = os.path.join(work, "rulebook.out")
    with open(output, "w") as out:
        # It runs ansible-galaxy and ansible-playbook from its PATH: those installed beside it first.
        env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(binary)) + os.pathsep + os.environ.get("PATH", ""))
        process = subprocess.Popen([binary, "--rulebook", rulebook, "-i", inventory], stdout=out, stderr=subprocess.STDOUT, cwd=work, env=env)
    try:
        wait_port(port)

        def executions():
            with open(output, errors="replace") as f:
                return f.read().count("STORM-EXECUTION {}")
        return asyncio.run(measure("ansible-rulebook (webhook, throttle once_within per groupKey)", f"http://127.0.0.1:{port}/endpoint",
                                   requests, clients, executions, lambda: executions() > 0))
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_medic(binary, requests, clients, work):
    for folder in ("actions", "playbooks"):
        os.makedirs(os.path.join(work, folder), exist_ok=True)
    with open(os.path.join(work, "actions", "storm.yaml"), "w") as f:
        f.write('actions:\n  restart:\n    type: infrastructure\n    risk_level: low\n    parameters: {service: required}\n'
                '    implementation: echo "restart ${service} on ${target}" >> effects.log\n')
    with open(os.path.join(work, "playbooks", "restart.yaml"), "w") as f:
        f.write("playbook_id: restart-service-001\nname: Restart a service\nversion: 1.0.0\ncategory: infrastructure\nseverity: SEV3\n"
                "parameters:\n  service: {type: string, required: true}\nremediation_steps:\n  - {step: 1, name: restart, action: restart}\n"
                "metadata: {}\n")
    with open(os.path.join(work, "medic.yaml"), "w") as f:
        f.write("routes:\n  - match: {alertname: ServiceDown}\n    playbook: restart-service-001\n"
                "    parameters_from_labels: {service: job}\n    target_label: instance\n")
    state = os.path.join(work, "state")
    # One manual run first: safe mode holds the first automated run of a playbook that never succeeded here.
    subprocess.run([binary, "run", "restart-service-001", "--param", "service=seed", "--target", "seed", "--root", work,
                    "--state-dir", state, "--workdir", work], cwd=work, check=True, stdout=subprocess.DEVNULL)
    runs = os.path.join(state, "runs")
    seeded = set(os.listdir(runs))
    port = free_port()
    process = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--root", work, "--state-dir", state, "--workdir", work,
                                "--config", os.path.join(work, "medic.yaml"), "--no-rules", "--log-level", "error"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    try:
        wait_port(port)

        def journals():
            return [name for name in os.listdir(runs) if name.endswith(".jsonl") and name not in seeded]

        def first_action():
            for name in journals():
                with open(os.path.join(runs, name), errors="replace") as f:
                    if '"step_started"' in f.read():
                        return True
            return False
        return asyncio.run(measure("medic serve (webhook, one run per group)", f"http://127.0.0.1:{port}/api/v1/alerts",
                                   requests, clients, lambda: len(journals()), first_action))
    finally:
        process.terminate()
        process.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--medic", default=".build/release/medic")
    parser.add_argument("--rulebook", default=shutil.which("ansible-rulebook") or "ansible-rulebook")
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    requests = storm(args.posts, args.seed)
    results = []
    for run in (run_medic, run_rulebook):
        work = tempfile.mkdtemp(prefix="storm-compare-")
        try:
            binary = os.path.abspath(args.medic) if run is run_medic else args.rulebook
            results.append(run(binary, requests, args.clients, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    load = open("/proc/loadavg").read().split()[:3]
    print(json.dumps({"posts": args.posts, "groups": GROUPS, "clients": args.clients, "load_average": " ".join(load),
                      "results": results}, indent=2))


if __name__ == "__main__":
    sys.exit(main())

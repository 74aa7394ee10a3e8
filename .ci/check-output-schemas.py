#!/usr/bin/env python3
"""Independent check of the JSON that `medic` prints against schemas/output/*.schema.json.

Run from the repository root after `swift build` (or `swift test`):
    python3 .ci/check-output-schemas.py [-v]
Needs: pip install jsonschema

Each schema must be a valid draft 2020-12 schema. Then the built `medic` runs the commands below
in a scratch library (a real run, a dry-run watch), and each command's --json output must be
valid against its schema. The Swift test OutputSchemaTests checks the same outputs with a small
checker of its own; this script is the cross-check with a full validator.
Prints `output-schema-check: N passed, M failed`; exits 1 if anything failed.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match
except ImportError as error:  # pragma: no cover
    print(f"output-schema-check: missing Python package ({error.name}); run: pip install jsonschema")
    print("output-schema-check: 0 passed, 1 failed")
    sys.exit(1)

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas" / "output"
VERBOSE = "-v" in sys.argv or "--verbose" in sys.argv

ACTIONS = """actions:
  note:
    type: infrastructure
    risk_level: low
    parameters: {log: required}
    implementation: echo noted >> "${log}"
"""
PLAYBOOK = """playbook_id: note-001
name: Note
version: 1.0.0
category: infrastructure
severity: SEV3
pre_conditions:
  - check: writable_filesystem
  - 'disk_usage_percent{path="/"} < 101'
parameters:
  log: {type: string, default: "LOG"}
remediation_steps:
  - {step: 1, name: note, action: note}
verification:
  check: 'disk_usage_percent{path="/"} < 101'
metadata: {}
"""
HEALTH_CHECKS = """component: api
shallow_checks:
  works: {command: "true"}
deep_checks:
  fails: {command: "false", retry: 0}
comprehensive_checks:
  workflow: {steps: [login]}
"""
EXPERIMENT = {"experiment_id": "exp-cure", "fault_type": "plugin-crash", "components": ["edge-1"], "pattern": "plugin-crash:edge",
              "succeeded": True,
              "remediation": [{"playbook_id": "edge", "action": "restart cache plugin", "priority": 1, "timeout": 60,
                               "type": "RestartPlugin", "parameters": {"plugin": "cache"}},
                              {"playbook_id": "restart-service", "action": "restart", "priority": 0}]}
RULES = """rules:
  - name: disk-filling
    metric: disk_usage_percent
    detector: threshold
    params: {op: ">", value: 85}
    for: 1m
    severity: SEV3
    playbook: note-001
"""


def binary():
    path = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True, check=True)
    return str(Path(path.stdout.strip()) / "medic")


def main():
    passed = failed = 0

    def result(ok, what, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            if VERBOSE:
                print(f"ok    {what}")
        else:
            failed += 1
            print(f"FAIL  {what}: {detail}")

    validators = {}
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        try:
            Draft202012Validator.check_schema(schema)
            validators[path.name[: -len(".schema.json")]] = Draft202012Validator(schema)
            result(True, f"{path.name} is a valid schema")
        except Exception as error:  # noqa: BLE001
            result(False, f"{path.name} is a valid schema", error)

    medic = binary()
    with tempfile.TemporaryDirectory() as scratch:
        lib = Path(scratch)
        (lib / "actions").mkdir()
        (lib / "playbooks").mkdir()
        (lib / "rules").mkdir()
        (lib / "actions" / "a.yaml").write_text(ACTIONS)
        (lib / "playbooks" / "p.yaml").write_text(PLAYBOOK.replace("LOG", str(lib / "log")))
        (lib / "rules" / "r.yaml").write_text(RULES)
        feed = "".join(
            json.dumps({"ts": 1_800_000_000 + t, "metric": "disk_usage_percent", "labels": {"path": "/var"}, "value": 93}) + "\n"
            for t in (0, 30, 60, 90))
        (lib / "feed.jsonl").write_text(feed)
        (lib / "labels.json").write_text(json.dumps({"disk_usage_percent": [["1800000000", "1800000030"]]}))
        state = str(lib / "state")
        run_first = subprocess.run([medic, "run", "note-001", "--root", str(lib), "--state-dir", state, "--json"],
                                   capture_output=True, text=True)
        run_id = json.loads(run_first.stdout).get("run_id", "") if run_first.stdout.strip() else ""
        (lib / "health-checks.yaml").write_text(HEALTH_CHECKS)
        (lib / "experiment.json").write_text(json.dumps(EXPERIMENT))
        learn = subprocess.run([medic, "memory", "learn", str(lib / "experiment.json"), "--state-dir", state, "--json"],
                               capture_output=True, text=True)
        learned = json.loads(learn.stdout).get("changes", []) if learn.stdout.strip() else []
        signature = learned[0].get("signature_id", "") if learned else ""
        commands = [
            ("status", None, ["status", "--checks", str(lib / "health-checks.yaml"), "--state-dir", state, "--json"]),
            ("status", None, ["status", "--state-dir", state, "--json"]),
            ("run", None, ["run", "note-001", "--root", str(lib), "--state-dir", state, "--json"]),
            ("plan", None, ["plan", "note-001", "--root", str(lib), "--state-dir", state, "--json"]),
            ("plan", None, ["run", "note-001", "--dry-run", "--root", str(lib), "--state-dir", state, "--json"]),
            ("list", None, ["list", "--root", str(lib), "--json"]),
            ("list", None, ["list", "--root", str(ROOT), "--json"]),
            ("runs", None, ["runs", "--state-dir", state, "--json"]),
            ("show", None, ["show", run_id, "--state-dir", state, "--json"]),
            ("validate", None, ["validate", "--root", str(lib), "--format", "json"]),
            ("validate", None, ["validate", "--root", str(ROOT), "--format", "json"]),
            ("watch-event", "lines", ["watch", "--input", str(lib / "feed.jsonl"), "--dry-run", "--json", "--root", str(lib),
                                      "--state-dir", state]),
            ("kb-stats", None, ["kb", "stats", "--state-dir", state, "--json"]),
            ("kb-advise", None, ["kb", "advise", "--state-dir", state, "--json"]),
            ("kb-update", None, ["kb", "update", "--state-dir", state, "--json"]),
            ("breaker", None, ["breaker", "list", "--state-dir", state, "--json"]),
            ("health", None, ["health", "--state-dir", state, "--json"]),
            ("memory-list", None, ["memory", "list", "--state-dir", state, "--json"]),
            ("memory-apply", None, ["memory", "apply", signature, "--state-dir", state, "--json"]),
            ("report", None, ["report", "daily", "--state-dir", state, "--json"]),
            ("prune", None, ["prune", "--dry-run", "--state-dir", state, "--library", str(lib), "--json"]),
            ("prune", None, ["prune", "--state-dir", state, "--library", str(lib), "--json"]),
            ("backtest", None, ["backtest", str(lib / "rules"), str(lib / "feed.jsonl"), "--json"]),
            ("backtest", None, ["backtest", str(lib / "rules"), str(lib / "feed.jsonl"), "--json", "--labels", str(lib / "labels.json")]),
        ]
        for schema, mode, arguments in commands:
            what = "medic " + " ".join(a.replace(scratch, "$TMP") for a in arguments)
            completed = subprocess.run([medic] + arguments, cwd=lib, capture_output=True, text=True)
            try:
                documents = ([json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
                             if mode == "lines" else [json.loads(completed.stdout)])
            except json.JSONDecodeError as error:
                result(False, what, f"not JSON ({error}); stderr: {completed.stderr[:300]}")
                continue
            validator = validators.get(schema)
            if validator is None:
                result(False, what, f"no schemas/output/{schema}.schema.json")
                continue
            errors = [best_match(validator.iter_errors(document)) for document in documents]
            errors = [error for error in errors if error is not None]
            result(not errors and documents, what,
                   "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:3]) or "no output")

    print(f"output-schema-check: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

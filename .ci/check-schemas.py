#!/usr/bin/env python3
"""Independent check of Medic's JSON Schemas (schemas/*.schema.json).

Run from the repository root:  python3 .ci/check-schemas.py [-v]
Needs: pip install check-jsonschema jsonschema pyyaml   (check-jsonschema is optional)

What it checks, without the Swift loader:
  1. each schema is a valid draft 2020-12 schema, has $id and title, has a description on every
     property (editors show it on hover), and the $defs the files share are identical;
  2. every .yaml/.yml/.json under playbooks/ actions/ rules/ policies/ and under
     Tests/MedicLoaderTests/Fixtures/valid/ is well-formed and valid against the schema of its
     kind (the kind is decided by the top-level keys, as docs/format.md says);
  3. every fixture under Tests/MedicLoaderTests/Fixtures/invalid/ named `<CODE>-<slug>` (a file,
     or a folder of files) is refused the way its code says:
       - codes in SCHEMA_EXPRESSIBLE: the file is well-formed and the schema rejects it;
       - codes in LOAD_REJECTED: this script's strict reader refuses the file with that code;
       - any other code (cross-file and semantic faults the schema cannot see): the file is
         well-formed and schema-valid, so that its one fault is the one in its name;
  4. the standalone files, read by `medic run` rather than `medic validate` and found by the
     option that names them, not by their keys: the metric sources file (--metrics), the
     inventory (--inventory), the configuration of `medic serve` (--config) and the health checks file (--checks). For each KIND in STANDALONE, every file under
     Tests/MedicLoaderTests/Fixtures/KIND/valid/ is well-formed and valid against
     schemas/KIND.schema.json, and every file under .../KIND/invalid/, named `<CODE>-<slug>`, is
     refused the way its code says, by the rules of step 3 (the Swift tests
     MetricSourcesFixtureTests, InventoryFixtureTests and ServeConfigurationFixtureTests check
     that the loader refuses them too);
  5. the check-jsonschema CLI, if installed, agrees: it accepts every file of steps 2 and 4 and
     rejects the schema-expressible fixtures of steps 3 and 4;
  6. the schemas see what Medic sees: every library fixture (valid/ and invalid/) goes through
     the schemas and through the built loader (`medic validate --format json`, from $MEDIC or
     .build/{debug,release}/medic), and the two verdicts must agree: a file Medic accepts is
     schema-valid, a file Medic refuses is refused by the schema or by the strict reader of
     step 3. The only exceptions are the fixtures in SCHEMA_BLIND, whose fault no JSON Schema of
     one file can see (a reference to another file, the condition language, step numbering),
     each with its reason; a listed fixture that the schema does refuse is a failure too, so the
     list stays exact. Without a built binary this step fails under CI=true and is skipped
     (with a note) otherwise. The standalone kinds of step 4 are not read by `medic validate`;
     the Swift tests MetricSourcesFixtureTests and InventoryFixtureTests hold their loader side.
Prints `schema-check: N passed, M failed`; exits 1 if anything failed.

YAML is read as YAML 1.1 (PyYAML, like libyaml/Yams that Medic uses): `no` is false and `2.1` a
number, which is why M105 (implicit typing where a string is expected) is schema-expressible here.
check-jsonschema reads YAML 1.2 (ruamel), where `no` stays a string, so its cross-check skips M105.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import yaml
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match
except ImportError as error:  # pragma: no cover
    print(f"schema-check: missing Python package ({error.name}); run: pip install jsonschema pyyaml")
    print("schema-check: 0 passed, 1 failed")
    sys.exit(1)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "schemas"
KINDS = ("playbook", "actions", "rules", "policies")
# Schemas of files outside the library: no `kind:` key, not found by their top-level keys, and
# checked against their own fixture folders, Fixtures/<kind>/{valid,invalid}.
STANDALONE = ("metric-sources", "inventory", "serve", "health-checks")
SHIPPED_DIRS = ("playbooks", "actions", "rules", "policies")
FIXTURES = ROOT / "Tests" / "MedicLoaderTests" / "Fixtures"
VALID_DIR = FIXTURES / "valid"
INVALID_DIR = FIXTURES / "invalid"
EXTENSIONS = {".yaml", ".yml", ".json"}

# Diagnostic codes (docs/format.md) whose fault a JSON Schema can see in one file.
SCHEMA_EXPRESSIBLE = {
    "M101",  # unknown key (additionalProperties: false)
    "M102",  # missing key (required)
    "M103",  # wrong type
    "M105",  # implicit typing: a YAML 1.1 number/boolean where a string is expected
    "M106",  # invalid value (enum)
    "M201",  # bad duration (pattern)
    "M202",  # bad percentage (pattern)
    "M203",  # bad size (pattern)
    "M204",  # bad bound (pattern)
    "M206",  # out of range (minimum/maximum)
    "M308",  # unknown blast radius (enum)
    "M311",  # bad targets (minItems, no `*`)
    "M313",  # unknown severity (enum)
}
# Codes whose fault is in the text itself: this script's strict reader must refuse the file.
LOAD_REJECTED = {"M003", "M004", "M005", "M006", "M007", "M011", "M012", "M013", "M014", "M104"}
# check-jsonschema reads YAML 1.2, where these faults do not exist.
YAML_1_1_ONLY = {"M105"}
# Invalid library fixtures that Medic refuses and a schema cannot: (fixture name -> why). Step 6.
SCHEMA_BLIND = {
    "M205-bad-condition.yaml": "the condition language is parsed by the loader, not a regular expression",
    "M301-duplicate-id": "cross-file: two files with one playbook_id",
    "M302-unknown-action.yaml": "cross-file: the action library",
    "M303-missing-parameter.yaml": "cross-file: the action's declared parameters",
    "M304-unknown-parameter.yaml": "cross-file: the action's declared parameters",
    "M305-parameter-value.yaml": "cross-file: the type the action declares for the parameter",
    "M306-undeclared-variable.yaml": "`${name}` references inside shell text",
    "M307-step-numbering.yaml": "step numbers in list order (1, 2, 3 ...)",
    "M309-unresolved-reference.yaml": "cross-file: references between policies",
    "M310-unknown-candidate-playbook.yaml": "cross-file: the playbooks a rule names",
    "M310-unknown-playbook.yaml": "cross-file: the playbooks a rule names",
    "M312-duplicate-rule-name.yaml": "uniqueness of names across list items",
    "M312-rule-lists-a-playbook-twice.yaml": "uniqueness of items in a list of strings that may repeat elsewhere",
    "M314-unknown-check.yaml": "a warning: the check names Medic carries out (refused with --strict)",
    "M315-escalation-order.yaml": "escalation levels numbered in order",
}

POLICY_KEYS = ("severity_levels", "escalation_policies", "auto_escalation_triggers", "blast_radius_levels",
               "containment_strategies", "rollback_strategies", "verification_states",
               "knowledge_base_structure", "rate_limits", "maintenance_windows", "playbook_selection", "retention")
ALLOWED_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}
FIXTURE_NAME = re.compile(r"^(M\d{3})-")

VERBOSE = "-v" in sys.argv or "--verbose" in sys.argv


# ---------------------------------------------------------------------------------------------
# Reading files strictly
class LoadFault(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and merge keys and keeps keys and dates as text."""

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            raise LoadFault("M103", f"line {node.start_mark.line + 1}: expected a mapping")
        mapping, seen = {}, {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise LoadFault("M012", f"line {line}: merge key `<<` (write the keys out)")
            if not isinstance(key_node, yaml.ScalarNode):
                raise LoadFault("M103", f"line {line}: a mapping key must be a scalar")
            key = key_node.value
            if key in seen:
                raise LoadFault("M104", f"line {line}: duplicate key {key!r} (first on line {seen[key]})")
            seen[key] = line
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


# Dates stay strings (`last_updated: 2025-12-01`), as they do for a string-typed key in Medic.
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(text):
    documents = 0
    try:
        for event in yaml.parse(text, Loader=StrictLoader):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
            tag = getattr(event, "tag", None)
            if tag is not None and isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent,
                                                      yaml.MappingStartEvent)) and tag not in ALLOWED_TAGS:
                raise LoadFault("M011", f"line {event.start_mark.line + 1}: disallowed tag {tag}")
    except yaml.YAMLError as error:
        raise LoadFault("M006", f"YAML syntax: {error}".replace("\n", " ")) from None
    if documents > 1:
        raise LoadFault("M013", f"{documents} YAML documents in one file")
    if documents == 0:
        raise LoadFault("M003", "empty file")
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except yaml.constructor.ConstructorError as error:
        raise LoadFault("M011", f"{error}".replace("\n", " ")) from None
    except yaml.YAMLError as error:
        raise LoadFault("M006", f"YAML: {error}".replace("\n", " ")) from None
    if data is None:
        raise LoadFault("M003", "empty document")
    return data


def read_json(text):
    def pairs(items):
        seen = {}
        for key, value in items:
            if key in seen:
                raise LoadFault("M104", f"duplicate key {key!r}")
            seen[key] = value
        return seen

    def constant(name):
        raise LoadFault("M007", f"{name} is not JSON")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as error:
        raise LoadFault("M007", f"JSON syntax: {error}") from None


def read(path):
    """The file's data, or LoadFault with the code Medic's loader would report."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LoadFault("M004", f"invalid UTF-8 at byte {error.start}") from None
    if "\x00" in text:
        raise LoadFault("M005", "NUL byte")
    if not text.strip():
        raise LoadFault("M003", "empty file")
    return read_json(text) if path.suffix == ".json" else read_yaml(text)


def kind_of(data):
    """The file kind by its top-level keys (docs/format.md), or LoadFault M014."""
    if not isinstance(data, dict):
        raise LoadFault("M014", "the top level is not a mapping")
    if "kind" in data:
        if data["kind"] in KINDS:
            return data["kind"]
        raise LoadFault("M014", f"kind: {data['kind']!r} is not one of {', '.join(KINDS)}")
    if "playbook_id" in data:
        return "playbook"
    if "actions" in data:
        return "actions"
    if "rules" in data:
        return "rules"
    if any(key in data for key in POLICY_KEYS):
        return "policies"
    raise LoadFault("M014", "top-level keys do not identify a playbook, actions, rules or policies file")


# ---------------------------------------------------------------------------------------------
class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, what):
        self.passed += 1
        if VERBOSE:
            print(f"  ok    {what}")

    def fail(self, what, why):
        self.failed += 1
        print(f"  FAIL  {what}: {why}")


def rel(path):
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def data_files(directory):
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in EXTENSIONS)


def describe(error):
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"at {where}: {error.message}"[:300]


def properties_without_description(node, path="#"):
    missing = []
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name, sub in props.items():
                if isinstance(sub, dict) and "description" not in sub and not _in_conditional(path):
                    missing.append(f"{path}/properties/{name}")
        for key, value in node.items():
            missing += properties_without_description(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            missing += properties_without_description(value, f"{path}/{i}")
    return missing


def _in_conditional(path):
    # `if`/`then`/`else`/`not` subschemas constrain a property that is described where it is declared.
    return bool({"if", "then", "else", "not"} & set(path.split("/")))


def check_schemas(tally):
    validators, defs_by_file = {}, {}
    for kind in KINDS + STANDALONE:
        path = SCHEMA_DIR / f"{kind}.schema.json"
        what = f"schema {rel(path)}"
        if not path.is_file():
            tally.fail(what, "missing")
            continue
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
        except Exception as error:  # noqa: BLE001 - any failure is a failed check
            tally.fail(what, f"not a valid 2020-12 schema: {error}".splitlines()[0][:300])
            continue
        problems = []
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            problems.append("$schema is not draft 2020-12")
        if not str(schema.get("$id", "")).endswith(f"/{kind}.schema.json"):
            problems.append("$id does not end in the file name")
        if not schema.get("title") or not schema.get("description"):
            problems.append("title or description missing")
        if "$schema" not in schema.get("properties", {}):
            problems.append("a top-level `$schema` key is not allowed")
        if kind in KINDS and "kind" not in schema.get("properties", {}):
            problems.append("a top-level `kind` key is not allowed")
        undocumented = properties_without_description(schema)
        if undocumented:
            problems.append("properties without description: " + ", ".join(undocumented[:5]))
        if problems:
            tally.fail(what, "; ".join(problems))
        else:
            tally.ok(what)
        validators[kind] = Draft202012Validator(schema)
        defs_by_file[kind] = schema.get("$defs", {})

    # Shared definitions are copied into each file (self-contained for editors): keep them equal.
    names = sorted({name for defs in defs_by_file.values() for name in defs})
    for name in names:
        holders = [k for k, defs in defs_by_file.items() if name in defs]
        if len(holders) < 2:
            continue
        first = defs_by_file[holders[0]][name]
        differing = [k for k in holders[1:] if defs_by_file[k][name] != first]
        what = f"$defs/{name} identical in {', '.join(holders)}"
        if differing:
            tally.fail(what, f"differs in {', '.join(differing)} from {holders[0]}")
        else:
            tally.ok(what)
    return validators


def check_valid_files(tally, validators):
    """Every shipped file and every valid fixture loads and matches its kind's schema."""
    by_kind = {kind: [] for kind in KINDS}
    directories = [ROOT / d for d in SHIPPED_DIRS] + [VALID_DIR]
    for directory in directories:
        if not directory.is_dir():
            print(f"  note  {rel(directory)}/ does not exist yet")
            continue
        files = data_files(directory)
        if not files:
            print(f"  note  {rel(directory)}/ holds no .yaml/.yml/.json files yet")
        for path in files:
            what = rel(path)
            try:
                data = read(path)
                kind = kind_of(data)
            except LoadFault as fault:
                tally.fail(what, f"{fault.code} {fault.message}")
                continue
            if kind not in validators:
                tally.fail(what, f"no usable schema for kind {kind}")
                continue
            errors = list(validators[kind].iter_errors(data))
            if errors:
                tally.fail(what, f"{kind} schema: {describe(best_match(errors))}"
                                 + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
            else:
                tally.ok(f"{what} [{kind}]")
                by_kind[kind].append(path)
    return by_kind


def judge_invalid(tally, what, code, outcomes):
    """Whether an invalid fixture is refused the way its code says (see step 3 of the docstring).

    `outcomes` holds (path, load fault or None, kind, schema errors) for each of its files.
    Returns the (code, path, kind) of the files the schema rejects, for the CLI."""
    if code in LOAD_REJECTED:
        faults = [(p, f) for p, f, _, _ in outcomes if f is not None]
        if any(f.code == code for _, f in faults):
            tally.ok(f"{what} refused when read")
        elif faults:
            tally.fail(what, f"refused with {faults[0][1].code} ({faults[0][1].message}), expected {code}")
        else:
            tally.fail(what, f"read without error, expected {code}")
        return []
    if code in SCHEMA_EXPRESSIBLE:
        bad_reads = [(p, f) for p, f, _, _ in outcomes if f is not None]
        if bad_reads:
            path, fault = bad_reads[0]
            tally.fail(what, f"{rel(path)} cannot be read ({fault.code} {fault.message}); the schema "
                             f"should be what rejects it")
            return []
        rejecting = [(p, k, e) for p, _, k, e in outcomes if e]
        if not rejecting:
            tally.fail(what, "the schema accepts it, but it should be rejected")
            return []
        path, kind, errors = rejecting[0]
        tally.ok(f"{what} rejected by the {kind} schema: {describe(best_match(errors))}")
        return [(code, p, k) for p, k, _ in rejecting]
    problems = []
    for path, fault, kind, errors in outcomes:
        if fault is not None:
            problems.append(f"{rel(path)} cannot be read ({fault.code} {fault.message})")
        elif errors:
            problems.append(f"{rel(path)} fails the {kind} schema {describe(best_match(errors))}")
    if problems:
        tally.fail(what, f"{code} is not a schema fault, so the rest of the file must be valid: "
                         + "; ".join(problems))
    else:
        tally.ok(f"{what} well-formed and schema-valid (its fault is for the loader)")
    return []


def check_invalid_fixtures(tally, validators):
    """Each invalid fixture is refused the way its code says. Returns the files for the CLI."""
    rejected_by_schema = []
    if not INVALID_DIR.is_dir():
        print(f"  note  {rel(INVALID_DIR)}/ does not exist yet")
        return rejected_by_schema
    for entry in sorted(INVALID_DIR.iterdir()):
        if entry.name.startswith(".") or entry.suffix.lower() in {".md", ".txt"}:
            continue
        match = FIXTURE_NAME.match(entry.name)
        if not match:
            tally.fail(rel(entry), "an invalid fixture's name must start with its code: <CODE>-<slug>")
            continue
        code = match.group(1)
        files = data_files(entry) if entry.is_dir() else [entry] if entry.suffix in EXTENSIONS else []
        if not files:
            tally.fail(rel(entry), "no .yaml/.yml/.json file")
            continue
        outcomes = []  # (path, load fault or None, kind, schema errors)
        for path in files:
            try:
                data = read(path)
                kind = kind_of(data)
            except LoadFault as fault:
                outcomes.append((path, fault, None, []))
                continue
            errors = list(validators[kind].iter_errors(data)) if kind in validators else []
            outcomes.append((path, None, kind, errors))
        rejected_by_schema += judge_invalid(tally, f"{rel(entry)} ({code})", code, outcomes)
    return rejected_by_schema


def check_standalone(tally, validators, kind):
    """A standalone kind's fixtures under Fixtures/<kind>/: valid ones match the schema, invalid
    ones are refused the way their code says (the kind is given by the folder, not the keys).

    Returns the valid files and the (code, path, kind) of the rejected ones, for the CLI."""
    folder = FIXTURES / kind
    valid, rejected = [], []
    if kind not in validators:
        tally.fail(f"{rel(folder)}/", f"no usable schema for {kind}")
        return valid, rejected
    validator = validators[kind]
    for subfolder in ("valid", "invalid"):
        if not data_files(folder / subfolder):
            tally.fail(f"{rel(folder / subfolder)}/", "no .yaml/.yml/.json fixtures")
    for path in data_files(folder / "valid"):
        what = rel(path)
        try:
            data = read(path)
        except LoadFault as fault:
            tally.fail(what, f"{fault.code} {fault.message}")
            continue
        errors = list(validator.iter_errors(data))
        if errors:
            tally.fail(what, f"{kind} schema: {describe(best_match(errors))}"
                             + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
        else:
            tally.ok(f"{what} [{kind}]")
            valid.append(path)
    for path in data_files(folder / "invalid"):
        match = FIXTURE_NAME.match(path.name)
        if not match:
            tally.fail(rel(path), "an invalid fixture's name must start with its code: <CODE>-<slug>")
            continue
        try:
            data = read(path)
            outcome = (path, None, kind, list(validator.iter_errors(data)))
        except LoadFault as fault:
            outcome = (path, fault, None, [])
        rejected += judge_invalid(tally, f"{rel(path)} ({match.group(1)})", match.group(1), [outcome])
    return valid, rejected


def check_with_cli(tally, valid_by_kind, rejected_by_schema):
    """Cross-check with the check-jsonschema CLI (YAML 1.2 via ruamel, ECMA-262 regexes)."""
    cli = shutil.which("check-jsonschema")
    if cli is None:
        print("  note  check-jsonschema is not installed; CLI cross-check skipped "
              "(pip install check-jsonschema)")
        return
    for kind, files in valid_by_kind.items():
        if not files:
            continue
        schema = SCHEMA_DIR / f"{kind}.schema.json"
        command = [cli, "--schemafile", str(schema)] + [str(f) for f in files]
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        what = f"check-jsonschema --schemafile {rel(schema)} ({len(files)} {kind} files)"
        if result.returncode == 0:
            tally.ok(what)
        else:
            output = (result.stdout + result.stderr).strip().replace("\n", " | ")
            tally.fail(what, output[:600])
    for code, path, kind in rejected_by_schema:
        if code in YAML_1_1_ONLY:
            continue
        schema = SCHEMA_DIR / f"{kind}.schema.json"
        result = subprocess.run([cli, "--schemafile", str(schema), str(path)],
                                capture_output=True, text=True, cwd=ROOT, check=False)
        what = f"check-jsonschema rejects {rel(path)}"
        if result.returncode == 1:
            tally.ok(what)
        else:
            output = (result.stdout + result.stderr).strip().replace("\n", " | ")
            tally.fail(what, f"exit {result.returncode}: {output[:300]}")


def medic_binary():
    """The built `medic`: $MEDIC, else the newest of .build/{debug,release}/medic."""
    import os
    if os.environ.get("MEDIC"):
        return Path(os.environ["MEDIC"])
    built = [p for p in (ROOT / ".build" / "debug" / "medic", ROOT / ".build" / "release" / "medic") if p.is_file()]
    return max(built, key=lambda p: p.stat().st_mtime) if built else None


def loader_verdicts(binary, paths, context):
    """{file: [error codes]} for `paths`, read with `context` (files for references only), as
    `medic validate --strict --format json` reports them (--strict: warnings count)."""
    import tempfile
    with tempfile.TemporaryDirectory() as empty_root:
        command = [str(binary), "validate", "--root", empty_root, "--strict", "--format", "json"]
        result = subprocess.run(command + [str(p) for p in paths + context], capture_output=True, text=True,
                                cwd=ROOT, check=False)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"medic validate exited {result.returncode}: {(result.stdout + result.stderr)[:300]}")
    document = json.loads(result.stdout)
    verdicts = {}
    for diagnostic in document.get("diagnostics", []):
        file = (ROOT / diagnostic.get("file", "")).resolve()
        verdicts.setdefault(file, []).append(diagnostic.get("code"))
    return verdicts


def schema_verdict(validators, path):
    """None when the schema (or the strict reader) accepts the file, else why it refuses it."""
    try:
        data = read(path)
        kind = kind_of(data)
    except LoadFault as fault:
        return f"refused when read ({fault.code})"
    errors = list(validators[kind].iter_errors(data)) if kind in validators else []
    return f"{kind} schema: {describe(best_match(errors))}" if errors else None


def check_against_loader(tally, validators):
    """Step 6: the schemas and the loader agree on every library fixture."""
    import os
    binary = medic_binary()
    if binary is None:
        if os.environ.get("CI"):
            tally.fail("loader agreement", "no built medic binary (.build/debug/medic); run swift build first")
        else:
            print("  note  no built medic binary (swift build, or set MEDIC=...); loader agreement skipped")
        return
    actions = VALID_DIR / "actions.yaml"
    try:
        valid_files = data_files(VALID_DIR)
        accepted = loader_verdicts(binary, valid_files, [])
    except (RuntimeError, json.JSONDecodeError) as error:
        tally.fail("loader agreement", str(error))
        return
    for path in valid_files:
        what = f"{rel(path)} accepted by Medic"
        codes = accepted.get(path.resolve(), [])
        refusal = schema_verdict(validators, path)
        if codes:
            tally.fail(what, f"Medic reports {', '.join(sorted(set(codes)))} for a valid fixture")
        elif refusal:
            tally.fail(what, f"but the schema refuses it: {refusal}")
        else:
            tally.ok(f"{what} and by the schema")
    blind_seen = set()
    for entry in sorted(INVALID_DIR.iterdir()):
        if entry.name.startswith(".") or entry.suffix.lower() in {".md", ".txt"} or not FIXTURE_NAME.match(entry.name):
            continue
        files = data_files(entry) if entry.is_dir() else [entry]
        what = f"{rel(entry)} refused by Medic"
        try:
            refused = loader_verdicts(binary, files, [actions])
        except (RuntimeError, json.JSONDecodeError) as error:
            tally.fail(what, str(error))
            continue
        codes = sorted({code for path in files for code in refused.get(path.resolve(), [])})
        if not codes:
            tally.fail(what, "Medic accepts it: the fixture is not invalid")
            continue
        refusals = [r for r in (schema_verdict(validators, path) for path in files) if r]
        if entry.name in SCHEMA_BLIND:
            blind_seen.add(entry.name)
            if refusals:
                tally.fail(what, f"listed in SCHEMA_BLIND, but the schema refuses it ({refusals[0]}): remove it from the list")
            else:
                tally.ok(f"{what} ({', '.join(codes)}); schema-blind: {SCHEMA_BLIND[entry.name]}")
        elif refusals:
            tally.ok(f"{what} ({', '.join(codes)}) and by the schema")
        else:
            tally.fail(what, f"Medic refuses it with {', '.join(codes)}, but the schema accepts it")
    for name in sorted(set(SCHEMA_BLIND) - blind_seen):
        tally.fail(f"SCHEMA_BLIND {name}", "no such invalid fixture")


def main():
    tally = Tally()
    print("schema-check: schemas")
    validators = check_schemas(tally)
    print("schema-check: shipped files and valid fixtures")
    valid_by_kind = check_valid_files(tally, validators)
    print("schema-check: invalid fixtures")
    rejected = check_invalid_fixtures(tally, validators)
    for kind in STANDALONE:
        print(f"schema-check: {kind} fixtures")
        valid_by_kind[kind], rejected_standalone = check_standalone(tally, validators, kind)
        rejected += rejected_standalone
    print("schema-check: check-jsonschema cross-check")
    check_with_cli(tally, valid_by_kind, rejected)
    print("schema-check: the schemas and the loader agree")
    check_against_loader(tally, validators)
    print(f"schema-check: {tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())

//! The JSON schemas under results/, one per kind of file sipbench writes, each versioned by
//! the `schema` field the tool writes: stored files and fresh output validate against them, and
//! the unit policy they state holds for every figure they describe.

mod common;
use common::sipbench;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::assert_valid_against;
use serde_json::Value;

fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results")
}

/// Every JSON file under results/ (subdirectories too), but the schemas.
fn stored_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "json")
                && !path.file_name().unwrap().to_string_lossy().starts_with("schema")
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&results_dir(), &mut out);
    out.sort();
    out
}

/// The schema file for a document, by its `schema` field (and `merged_from`).
fn schema_for(json: &Value) -> Option<&'static str> {
    Some(match json.get("schema").and_then(Value::as_str)? {
        "sipbench-result/1" if json.get("merged_from").is_some() => "schema-merged.json",
        "sipbench-result/1" => "schema.json",
        "sipbench-compare/1" => "schema-compare.json",
        "sipbench-audit/2" => "schema-audit.json",
        "sipbench-backends/1" => "schema-backends.json",
        "sipbench-diff/1" => "schema-diff.json",
        _ => return None,
    })
}

/// Each schema's `$id` is the version its files carry in `schema` (merged files carry the
/// results file's).
#[test]
fn every_schema_names_the_version_the_tool_writes() {
    let versions = [
        ("schema.json", "sipbench-result/1", sipbench::results::SCHEMA),
        ("schema-compare.json", "sipbench-compare/1", sipbench::compare::SCHEMA),
        (
            "schema-audit.json",
            "sipbench-audit/2",
            sipbench::audit::command::SCHEMA,
        ),
        (
            "schema-backends.json",
            "sipbench-backends/1",
            sipbench::backends::SCHEMA,
        ),
        ("schema-diff.json", "sipbench-diff/1", sipbench::report::diff::SCHEMA),
        ("schema-merged.json", "sipbench-merged/1", sipbench::results::SCHEMA),
    ];
    let files = common::schema_files();
    assert_eq!(
        files.len(),
        versions.len(),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, id, written) in versions {
        let json = &files.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(json["$id"], id, "{name}");
        let constant = if name == "schema-merged.json" {
            &json["allOf"][1]["properties"]["schema"]["const"]
        } else {
            &json["properties"]["schema"]["const"]
        };
        assert_eq!(constant, written, "{name}: the version the tool writes");
        // Every schema compiles, its references to the others resolved.
        common::validator(name);
    }
}

/// Every stored file of a kind with a schema validates against it; the reference server's
/// counters (`*-server.json`) against schema.json's `server`.
#[test]
fn stored_files_validate_against_their_schemas() {
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for path in stored_files() {
        let name = path.strip_prefix(results_dir()).unwrap().display().to_string();
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if let Some(schema) = schema_for(&json) {
            assert_valid_against(schema, &json);
            *seen.entry(schema).or_default() += 1;
        } else if name.ends_with("server.json") {
            let wrapped = serde_json::json!({ "server": json });
            let errors: Vec<String> = common::schema()
                .iter_errors(&wrapped)
                .filter(|e| e.instance_path().as_str().starts_with("/server"))
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
            *seen.entry("server").or_default() += 1;
        } else {
            eprintln!("{name}: not a file kind of sipbench's (a script's), not checked");
        }
    }
    for kind in ["schema.json", "schema-compare.json", "schema-audit.json", "server"] {
        assert!(
            seen.get(kind).is_some_and(|n| *n > 0),
            "no stored file checked against {kind}: {seen:?}"
        );
    }
}

/// Fresh output of the cheap commands: `backends --json`, `diff --json` and `merge` of stored
/// runs (runs, compare and audit files are checked fresh in tests/cli.rs, tests/compare.rs and
/// tests/audit_cli.rs).
#[test]
fn fresh_backends_diff_and_merge_output_validates() {
    let o = sipbench().args(["backends", "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let backends: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_valid_against("schema-backends.json", &backends);

    let (a, b) = (
        results_dir().join("default-20261129T091709Z.json"),
        results_dir().join("default-20261129T091712Z.json"),
    );
    for extra in [&[][..], &["--fail-on-regression", "1"][..]] {
        let o = sipbench()
            .arg("diff")
            .arg(&a)
            .arg(&b)
            .arg("--json")
            .args(extra)
            .output()
            .unwrap();
        let diff: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        assert_valid_against("schema-diff.json", &diff);
        assert!(!diff["rows"].as_array().unwrap().is_empty());
    }
    // Runs of different set-ups: the differences are listed.
    let other = results_dir().join("tcp-kept.json");
    let o = sipbench()
        .arg("diff")
        .arg(&a)
        .arg(&other)
        .arg("--json")
        .output()
        .unwrap();
    let diff: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_valid_against("schema-diff.json", &diff);

    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("merged.json");
    let o = sipbench()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(schema_for(&json), Some("schema-merged.json"));
    assert_valid_against("schema-merged.json", &json);
    assert_valid_against("schema.json", &json);
}

fn schema_file(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Names that say their unit (or are fractions from 0 to 1).
fn names_its_unit(name: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "_us", "_ms", "_s", "_bytes", "_per_s", "_per_gb", "_ratio", "_share", "_pct",
    ];
    SUFFIXES.iter().any(|s| name.ends_with(s))
        || name.starts_with("mb_per_s")
        || matches!(name, "share" | "failure_rate" | "ratio_to_first")
}

/// Every property typed `number` (a measured figure, not a count) either names its unit or
/// has a description (or the object holding it says the unit, as the latency summaries'
/// "in microseconds" does). The root's description, the policy itself, excuses nothing.
fn check_units(schema: &Value, file: &str, path: &str, bad: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            let says = !path.is_empty()
                && map.get("description").and_then(Value::as_str).is_some_and(|d| {
                    ["second", "microsecond", "millisecond", "byte", "fraction"]
                        .iter()
                        .any(|u| d.contains(u))
                });
            if let Some(Value::Object(props)) = map.get("properties") {
                for (name, sub) in props {
                    let numeric = match sub.get("type") {
                        Some(Value::String(t)) => t == "number",
                        Some(Value::Array(ts)) => ts.iter().any(|t| t == "number"),
                        _ => false,
                    };
                    let described = sub
                        .get("description")
                        .and_then(Value::as_str)
                        .is_some_and(|d| !d.is_empty());
                    if numeric && !names_its_unit(name) && !described && !says {
                        bad.push(format!("{file}: {path}.{name}"));
                    }
                    check_units(sub, file, &format!("{path}.{name}"), bad);
                }
            }
            for (key, sub) in map {
                if key != "properties" {
                    check_units(sub, file, &format!("{path}/{key}"), bad);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|s| check_units(s, file, path, bad)),
        _ => {}
    }
}

#[test]
fn every_figure_in_the_schemas_names_its_unit() {
    let mut bad = Vec::new();
    let schema = schema_file("schema.json");
    let description = schema["description"].as_str().unwrap();
    for word in ["microseconds", "milliseconds", "nanoseconds", "_per_s", "_bytes"] {
        assert!(
            description.contains(word),
            "schema.json's description states the unit policy ({word})"
        );
    }
    for (name, schema) in common::schema_files() {
        check_units(&schema, &name, "", &mut bad);
    }
    assert!(
        bad.is_empty(),
        "figures whose unit is neither in their name nor described:\n{}",
        bad.join("\n")
    );
}

/// The schemas are not vacuous: a file broken where another schema's definitions apply
/// (a compare round's phase, a merged file's results fields) or in its own fields is refused.
#[test]
fn schemas_refuse_what_they_do_not_describe() {
    let stored = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(results_dir().join(name)).unwrap()).unwrap()
    };
    let refused = |schema: &str, json: &Value, what: &str| {
        assert!(!common::validator(schema).is_valid(json), "{schema} accepted {what}");
    };
    let compare = stored("compare-key-types.json");
    let mut bad = compare.clone();
    bad["rounds"][0]["result"]["measured_s"] = "long".into();
    refused("schema-compare.json", &bad, "a round whose phase has a text measured_s");
    let mut bad = compare.clone();
    bad["dimension"] = "colour".into();
    refused("schema-compare.json", &bad, "an unknown dimension");

    let mut merged = stored("default-20261129T091709Z.json");
    merged["merged_from"] = 2.into();
    merged["shards"] = serde_json::json!([{}, {}]);
    refused("schema-merged.json", &merged, "shards without their fields");
    let mut bad = stored("default-20261129T091709Z.json");
    refused("schema-merged.json", &bad, "a run that merged nothing");
    bad["merged_from"] = 2.into();
    bad["phases"][0]["rates"] = Value::Null;
    refused("schema-merged.json", &bad, "a merged file without rates");

    let mut audit = stored("audit.json");
    audit["cells"][0]["direction"] = "sideways".into();
    refused("schema-audit.json", &audit, "a cell in no direction");

    let backends = serde_json::json!({ "schema": "sipbench-backends/1", "backends": [{ "name": "nss" }] });
    refused("schema-backends.json", &backends, "an unknown backend");
    let diff = serde_json::json!({ "schema": "sipbench-diff/2" });
    refused("schema-diff.json", &diff, "another version");
}

/// Objects that are maps keyed by name (a metric, a method, a failure kind...): a new key there
/// would be a new entry, not a new field.
const MAPS: &[&str] = &[
    "failures",
    "transactions",
    "latency_us",
    "histograms",
    "resumed_by",
    "by_reason",
    "registrar_refused",
    "auth",
];

/// Adds a field to every object in `json` but the name-keyed maps, as a later minor version of
/// a format might.
fn add_unknown_fields(json: &mut Value, key: &str) {
    match json {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                add_unknown_fields(v, k);
            }
            if !MAPS.contains(&key) {
                map.insert("added_in_a_later_version".into(), serde_json::json!({ "in": key }));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| add_unknown_fields(v, key)),
        _ => {}
    }
}

/// A results, merged, compare or audit file of a later minor version, with fields this version
/// does not know at every level, loads: with `sipbench report`, `diff` and `merge`, and the
/// library's readers. Another major version is refused, naming it.
#[test]
fn readers_tolerate_added_fields_of_a_later_minor_version() {
    let dir = tempfile::tempdir().unwrap();
    let later = |stored: &str, name: &str, version: &str| -> PathBuf {
        let mut json: Value =
            serde_json::from_str(&std::fs::read_to_string(results_dir().join(stored)).unwrap()).unwrap();
        add_unknown_fields(&mut json, "");
        json["schema"] = version.into();
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        path
    };
    let a = later("default-20261129T091709Z.json", "a.json", "sipbench-result/1.7");
    let b = later("default-20261129T091712Z.json", "b.json", "sipbench-result/1.7");
    let text = std::fs::read_to_string(&a).unwrap();
    assert!(text.matches("added_in_a_later_version").count() > 20);
    let r = sipbench::results::RunResult::read(&a).unwrap();
    assert_eq!(r.schema, sipbench::results::SCHEMA);

    let ok = |cmd: &mut Command| {
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };
    ok(sipbench()
        .arg("report")
        .arg(&a)
        .arg("--out-dir")
        .arg(dir.path().join("report")));
    assert!(dir.path().join("report/report.html").exists());
    let o = ok(sipbench().arg("diff").arg(&a).arg(&b).arg("--json"));
    let diff: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!diff["rows"].as_array().unwrap().is_empty());
    // A merged file of a later version merges again with a plain one.
    let merged = dir.path().join("merged.json");
    ok(sipbench().arg("merge").arg(&a).arg(&b).arg("-o").arg(&merged));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_valid_against("schema-merged.json", &json);
    let m = later_of(&merged, dir.path().join("merged-later.json"));
    ok(sipbench()
        .arg("report")
        .arg(&m)
        .arg("--out-dir")
        .arg(dir.path().join("report-merged")));
    ok(sipbench().arg("diff").arg(&m).arg(&merged));

    let c = later("compare-key-types.json", "c.json", "sipbench-compare/1.2");
    let compare = sipbench::compare::CompareResult::read(&c).unwrap();
    assert_eq!(compare.schema, sipbench::compare::SCHEMA);
    assert_eq!(compare.rounds.len() % compare.variants.len(), 0);
    let audit = later("audit.json", "audit.json", "sipbench-audit/2.1");
    let audit = sipbench::audit::command::AuditReport::read(&audit).unwrap();
    assert_eq!(audit.failed, 0);

    // Another major version, or another kind, is refused, naming it.
    let next = later("default-20261129T091709Z.json", "next.json", "sipbench-result/2");
    let o = sipbench().arg("report").arg(&next).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("sipbench-result/2"), "{err}");
    let o = sipbench().arg("diff").arg(&a).arg(&c).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("a sipbench compare file") && err.contains("not the results of a run"),
        "{err}"
    );
}

/// `path` rewritten as a later minor version with added fields, at `to`.
fn later_of(path: &Path, to: PathBuf) -> PathBuf {
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    add_unknown_fields(&mut json, "");
    json["schema"] = "sipbench-result/1.3".into();
    std::fs::write(&to, serde_json::to_string(&json).unwrap()).unwrap();
    to
}

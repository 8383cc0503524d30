//! The JSON schemas under results/: the unit policy they state holds for every figure they
//! describe.

use std::path::Path;

use serde_json::Value;

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
    check_units(&schema, "schema.json", "", &mut bad);
    assert!(
        bad.is_empty(),
        "figures whose unit is neither in their name nor described:\n{}",
        bad.join("\n")
    );
}

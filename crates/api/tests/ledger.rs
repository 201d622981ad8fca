//! The field ledger against the spec: every request field of every operation is classified,
//! once, parents before their fields; and `docs/COMPATIBILITY.md` shows the ledger as it is
//! (`OPENDLC_BLESS=1 cargo test -p opendlc-api --test ledger` rewrites its tables).

use std::collections::HashMap;
use std::path::PathBuf;

use opendlc_api::ledger::{self, Treatment};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn spec() -> Value {
    let text = std::fs::read(repo().join("spec/pai-dlc-2020-12-03.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// Every request field of every operation, as the ledger names them, in the spec's order.
fn spec_fields(spec: &Value) -> Vec<(String, String)> {
    let schemas = &spec["components"]["schemas"];
    let mut out = Vec::new();
    for (operation, api) in spec["apis"].as_object().unwrap() {
        for parameter in api["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "body" {
                let mut paths = Vec::new();
                walk(
                    schemas,
                    &parameter["schema"],
                    String::new(),
                    &mut paths,
                    &[],
                );
                out.extend(paths.into_iter().map(|p| (operation.clone(), p)));
            } else {
                let name = parameter["name"].as_str().unwrap().to_string();
                out.push((operation.clone(), name));
            }
        }
    }
    out
}

fn walk(schemas: &Value, schema: &Value, path: String, out: &mut Vec<String>, seen: &[&str]) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        if seen.contains(&name) {
            out.push(path);
            return;
        }
        let seen: Vec<&str> = seen.iter().copied().chain([name]).collect();
        return walk(schemas, &schemas[name], path, out, &seen);
    }
    match (schema["type"].as_str(), schema["properties"].as_object()) {
        (Some("object"), Some(properties)) => {
            if !path.is_empty() {
                out.push(path.clone());
            }
            for (name, property) in properties {
                let inner = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                walk(schemas, property, inner, out, seen);
            }
        }
        (Some("array"), _) => walk(schemas, &schema["items"], format!("{path}[]"), out, seen),
        _ => out.push(path),
    }
}

#[test]
fn every_request_field_of_the_spec_is_classified_once() {
    let spec = spec_fields(&spec());
    let mut in_ledger: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, f) in ledger::fields().iter().enumerate() {
        let before = in_ledger.insert((f.operation, f.path), i);
        assert!(
            before.is_none(),
            "{} {} is in the ledger twice",
            f.operation,
            f.path
        );
        assert!(
            !f.note.trim().is_empty(),
            "{} {} has no note",
            f.operation,
            f.path
        );
    }
    let unclassified: Vec<String> = spec
        .iter()
        .filter(|(op, path)| !in_ledger.contains_key(&(op.as_str(), path.as_str())))
        .map(|(op, path)| format!("{op} {path}"))
        .collect();
    assert!(
        unclassified.is_empty(),
        "request fields the ledger does not classify:\n{}",
        unclassified.join("\n")
    );
    let stale: Vec<String> = ledger::fields()
        .iter()
        .filter(|f| !spec.iter().any(|(op, p)| op == f.operation && p == f.path))
        .map(|f| format!("{} {}", f.operation, f.path))
        .collect();
    assert!(
        stale.is_empty(),
        "ledger entries not in the spec:\n{}",
        stale.join("\n")
    );
    // An object comes before its fields (what `ignored_in` relies on).
    for f in ledger::fields() {
        let mut parent = f.path;
        while let Some(cut) = parent.rfind('.') {
            parent = &parent[..cut];
            if let Some(&p) = in_ledger.get(&(f.operation, parent)) {
                assert!(
                    p < in_ledger[&(f.operation, f.path)],
                    "{} {}",
                    f.operation,
                    f.path
                );
            }
        }
    }
}

#[test]
fn an_ignored_field_of_a_request_is_named_where_it_is_set() {
    let body = serde_json::json!({
        "DisplayName": "x",
        "JobSpecs": [
            {"Type": "Worker", "PodCount": 1},
            {"Type": "PS", "SystemDisk": {"PerformanceLevel": "PL1"}, "Image": ""},
        ],
        "UserVpc": {"VpcId": "vpc-1", "SwitchId": "vsw-1"},
    });
    let ignored = ledger::ignored_in("CreateJob", &body);
    let paths: Vec<&str> = ignored.iter().map(|u| u.path.as_str()).collect();
    // Where it is set, element by element; an ignored object, not each of its fields.
    assert_eq!(
        paths,
        ["UserVpc", "JobSpecs[1].SystemDisk.PerformanceLevel"]
    );
    // Only ignored fields are reported.
    for unused in &ignored {
        let field = ledger::field("CreateJob", &pattern(&unused.path));
        assert_eq!(
            field.map(|f| f.treatment),
            Some(Treatment::Ignored),
            "{unused}"
        );
    }
}

/// `JobSpecs[1].GPUType` → `JobSpecs[].GPUType`.
fn pattern(path: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

const START: &str = "<!-- ledger: generated from crates/api/src/ledger; do not edit by hand -->\n";
const END: &str = "<!-- ledger: end -->\n";

#[test]
fn the_compatibility_doc_shows_the_ledger() {
    let path = repo().join("docs/COMPATIBILITY.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) else {
        panic!("docs/COMPATIBILITY.md lacks the ledger's markers");
    };
    let fresh = format!(
        "{}{START}{}{}",
        &doc[..start],
        ledger::markdown(),
        &doc[end..]
    );
    if std::env::var_os("OPENDLC_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    } else {
        assert!(
            fresh == doc,
            "docs/COMPATIBILITY.md is out of date: OPENDLC_BLESS=1 cargo test -p opendlc-api --test ledger"
        );
    }
}

//! The field ledger: what this server does with every request field of every operation of the
//! spec — [honoured](Treatment::Honoured), [refused](Treatment::Refused) with a clear error, or
//! [ignored](Treatment::Ignored) (accepted, echoed where the API echoes it, with no effect
//! here) — with a line saying what, or why not. A test checks it against the spec (a request
//! field the ledger does not classify fails it) and renders `docs/COMPATIBILITY.md`'s field
//! tables from it; the server tells a job which of the fields its request set are ignored
//! ([`ignored_in`]), so nothing is ignored silently.
//!
//! A field's path names it as the request shows it: `.` between an object's fields, `[]` for
//! any element of an array (`JobSpecs[].ExtraPodSpec.InitContainers[].Image`); a query or
//! path parameter is its name.
//!
//! ```
//! use opendlc_api::ledger::{self, Treatment};
//!
//! let field = ledger::field("CreateJob", "JobSpecs[].SystemDisk.Category").unwrap();
//! assert_eq!(field.treatment, Treatment::Ignored);
//! let body = serde_json::json!({"JobSpecs": [{"Type": "Worker"}],
//!                               "UserVpc": {"VpcId": "vpc-1"}});
//! let ignored = ledger::ignored_in("CreateJob", &body);
//! assert_eq!(ignored[0].path, "UserVpc");
//! ```

mod table;

use serde_json::Value;

/// What the server does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// The value changes what the server or the job's pods do.
    Honoured,
    /// A request that sets it is refused, saying so.
    Refused,
    /// Accepted (and echoed where the API echoes it); it changes nothing here.
    Ignored,
}

impl Treatment {
    pub fn as_str(self) -> &'static str {
        match self {
            Treatment::Honoured => "honoured",
            Treatment::Refused => "refused",
            Treatment::Ignored => "ignored",
        }
    }
}

/// One request field of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub operation: &'static str,
    pub path: &'static str,
    pub treatment: Treatment,
    /// What it does (honoured), the error (refused), or why it has no effect here (ignored).
    pub note: &'static str,
}

/// Every classified field, operation by operation, in the spec's order.
pub fn fields() -> &'static [Field] {
    table::FIELDS
}

/// The ledger's entry of `path` of `operation`.
pub fn field(operation: &str, path: &str) -> Option<&'static Field> {
    table::FIELDS
        .iter()
        .find(|f| f.operation == operation && f.path == path)
}

/// An ignored field a request set, at its place in the request (`JobSpecs[1].UseSpotInstance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unused {
    pub path: String,
    pub note: &'static str,
}

impl std::fmt::Display for Unused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is accepted and has no effect here: {}",
            self.path, self.note
        )
    }
}

/// The [ignored](Treatment::Ignored) fields that a JSON request `body` of `operation` sets
/// (to anything but null or an empty string, array or object), outermost only: an ignored
/// object stands for what it holds. Fields outside arrays first, then element by element
/// (`JobSpecs[0]`, `JobSpecs[1]`, …), in the ledger's order within each.
pub fn ignored_in(operation: &str, body: &Value) -> Vec<Unused> {
    let mut found: Vec<Unused> = Vec::new();
    // The ledger lists an object before its fields: the object is found first.
    for field in table::FIELDS
        .iter()
        .filter(|f| f.operation == operation && f.treatment == Treatment::Ignored)
    {
        let segments: Vec<&str> = field.path.split('.').collect();
        let mut at = Vec::new();
        instances(body, &segments, String::new(), &mut at);
        for path in at {
            let inside_reported = found.iter().any(|u| {
                path.strip_prefix(&u.path)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            });
            if !inside_reported {
                found.push(Unused {
                    path,
                    note: field.note,
                });
            }
        }
    }
    // Stable: in the ledger's order within one element.
    found.sort_by_key(|u| indices(&u.path));
    found
}

/// Where `segments` lead in `value` to something set: concrete paths under `prefix`.
fn instances(value: &Value, segments: &[&str], prefix: String, out: &mut Vec<String>) {
    let Some((first, rest)) = segments.split_first() else {
        if is_set(value) {
            out.push(prefix);
        }
        return;
    };
    let (name, array) = match first.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (*first, false),
    };
    let Some(child) = value.as_object().and_then(|o| o.get(name)) else {
        return;
    };
    let path = if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    };
    match (array, child.as_array()) {
        // An array of values is the field itself (`Command[]`).
        (true, _) if rest.is_empty() => instances(child, rest, path, out),
        (true, Some(items)) => {
            for (i, item) in items.iter().enumerate() {
                instances(item, rest, format!("{path}[{i}]"), out);
            }
        }
        (true, None) => {}
        (false, _) => instances(child, rest, path, out),
    }
}

fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// The array indices along `path` (`JobSpecs[2].X` → `[2]`): the fields of one role together.
fn indices(path: &str) -> Vec<usize> {
    path.split('[')
        .skip(1)
        .filter_map(|part| part.split(']').next()?.parse().ok())
        .collect()
}

/// The ledger as Markdown: one table per operation (field, treatment, note).
pub fn markdown() -> String {
    let mut out = String::new();
    let mut operation = "";
    for field in table::FIELDS {
        if field.operation != operation {
            operation = field.operation;
            let of = |t: Treatment| {
                table::FIELDS
                    .iter()
                    .filter(|f| f.operation == operation && f.treatment == t)
                    .count()
            };
            out.push_str(&format!(
                "\n### {operation}\n\n{} honoured, {} refused, {} ignored.\n\n\
                 | field | | what it does here |\n|---|---|---|\n",
                of(Treatment::Honoured),
                of(Treatment::Refused),
                of(Treatment::Ignored),
            ));
        }
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            field.path,
            field.treatment.as_str(),
            field.note.replace('|', "\\|")
        ));
    }
    out
}

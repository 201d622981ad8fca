//! The results: one row per figure, some held against a target; a table and a JSON document.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
pub enum Target {
    AtMost(f64),
    AtLeast(f64),
}

#[derive(Debug, Clone)]
pub struct Measure {
    pub scenario: &'static str,
    pub metric: String,
    pub value: f64,
    pub unit: &'static str,
    pub target: Option<Target>,
}

impl Measure {
    /// A figure reported for context, held against no target.
    pub fn info(
        scenario: &'static str,
        metric: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Measure {
        Measure {
            scenario,
            metric: metric.into(),
            value,
            unit,
            target: None,
        }
    }

    pub fn at_most(self, limit: f64) -> Measure {
        Measure {
            target: Some(Target::AtMost(limit)),
            ..self
        }
    }

    pub fn at_least(self, floor: f64) -> Measure {
        Measure {
            target: Some(Target::AtLeast(floor)),
            ..self
        }
    }

    pub fn passed(&self) -> Option<bool> {
        self.target.map(|t| match t {
            Target::AtMost(limit) => self.value <= limit,
            Target::AtLeast(floor) => self.value >= floor,
        })
    }

    fn target_text(&self) -> String {
        match self.target {
            Some(Target::AtMost(limit)) => format!("<= {} {}", number(limit), self.unit),
            Some(Target::AtLeast(floor)) => format!(">= {} {}", number(floor), self.unit),
            None => String::new(),
        }
    }
}

/// Whole numbers as such, two decimals below 100, none above: `16`, `0.42`, `12.07`, `15234`.
fn number(v: f64) -> String {
    if v.fract() == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

pub fn table(measures: &[Measure]) -> String {
    let rows: Vec<[String; 5]> = measures
        .iter()
        .map(|m| {
            let verdict = match m.passed() {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "",
            };
            [
                m.scenario.to_string(),
                m.metric.clone(),
                format!("{} {}", number(m.value), m.unit),
                m.target_text(),
                verdict.to_string(),
            ]
        })
        .collect();
    let header = ["scenario", "metric", "value", "target", "result"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |row: &[String; 5]| {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(&header);
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

pub fn to_json(measures: &[Measure]) -> Value {
    let results: Vec<Value> = measures
        .iter()
        .map(|m| {
            let target = match m.target {
                Some(Target::AtMost(limit)) => json!({"at_most": limit}),
                Some(Target::AtLeast(floor)) => json!({"at_least": floor}),
                None => Value::Null,
            };
            json!({
                "scenario": m.scenario,
                "metric": m.metric,
                "value": m.value,
                "unit": m.unit,
                "target": target,
                "passed": m.passed(),
            })
        })
        .collect();
    Value::Array(results)
}

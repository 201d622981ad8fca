//! The no-JavaScript job page: `/dashboard/jobs/{JobId}?token=…`, a small server-rendered HTML
//! page (summary, pods, status history, events, the last lines of each pod's log) that refreshes
//! itself while the job is unfinished. GetDashboard links to the web console (`/#/jobs/…`); this
//! page is its fallback for browsers without JavaScript (the console's page points here), and
//! keeps links issued before the console working. It takes the same token, for that one job,
//! and shows only what the token's issuer may read.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use opendlc_core::time::{format_event, format_wire, now_millis};
use opendlc_runtime::logs::{read_log, LogQuery};
use serde::Deserialize;

use crate::auth::honour::honour;
use crate::auth::token::TargetType;
use crate::state::AppState;

/// Log lines shown per pod.
const LOG_LINES: usize = 200;

#[derive(Deserialize)]
pub struct PageQuery {
    token: Option<String>,
}

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/dashboard/jobs/{job_id}", axum::routing::get(page))
        .with_state(state)
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

async fn page(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let Some(token) = q.token.filter(|t| !t.is_empty()) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "This page needs the link GetDashboard returns (it carries a token).",
        );
    };
    let claims = match state.auth.tokens().verify(&token, now_millis() / 1000) {
        Ok(c) if c.target_type == TargetType::Job && c.target_id == job_id => c,
        Ok(_) => return refuse(StatusCode::FORBIDDEN, "The token is for another resource."),
        Err(e) => return refuse(StatusCode::FORBIDDEN, &format!("Invalid token: {e}.")),
    };
    // The link speaks for its issuer: it works while they could read the job now.
    let (Ok(_), Ok(job)) = (honour(&state.store, &claims), state.store.get_job(&job_id)) else {
        return refuse(StatusCode::NOT_FOUND, "No such job.");
    };
    let pods = state.store.pods(&job_id).unwrap_or_default();
    let history = state.store.status_history(&job_id).unwrap_or_default();
    let events = state
        .store
        .events(&job_id, None, 0, i64::MAX, 200)
        .unwrap_or_default();

    let mut html = String::new();
    let title = format!("{} ({})", esc(&job.display_name), esc(&job.job_id));
    let refresh = if job.status.is_terminal() {
        String::new()
    } else {
        r#"<meta http-equiv="refresh" content="5">"#.to_string()
    };
    html.push_str(&format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}<title>{title}</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:72em}}\
         table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}\
         pre{{background:#f6f6f6;padding:.6em;overflow:auto;max-height:30em}}</style></head><body>\
         <h1>{title}</h1>"
    ));
    let reason = job
        .reason
        .as_ref()
        .map(|r| format!("{}: {}", r.code, r.message))
        .unwrap_or_default();
    html.push_str(&format!(
        "<table><tr><th>Status</th><td>{}</td></tr><tr><th>Reason</th><td>{}</td></tr>\
         <tr><th>Type</th><td>{}</td></tr><tr><th>Priority</th><td>{}</td></tr>\
         <tr><th>Workspace</th><td>{}</td></tr><tr><th>Command</th><td><code>{}</code></td></tr>\
         <tr><th>Created</th><td>{}</td></tr></table>",
        job.status,
        esc(&reason),
        job.job_type,
        job.priority,
        esc(&job.workspace_id),
        esc(&job.user_command),
        format_wire(job.times.created),
    ));
    html.push_str("<h2>Pods</h2><table><tr><th>Pod</th><th>Status</th><th>IP</th><th>Node</th><th>Exit</th><th>Current</th></tr>");
    for pod in &pods {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&pod.pod_id),
            pod.status,
            esc(pod.ip.as_deref().unwrap_or("")),
            esc(pod.node_name.as_deref().unwrap_or("")),
            pod.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            if pod.current { "yes" } else { "history" },
        ));
    }
    html.push_str("</table><h2>Status history</h2><table><tr><th>Status</th><th>From</th><th>Reason</th></tr>");
    for period in &history {
        let reason = period
            .reason
            .as_ref()
            .map(|r| r.message.clone())
            .unwrap_or_default();
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            period.status,
            format_wire(period.start),
            esc(&reason)
        ));
    }
    html.push_str("</table><h2>Events</h2><pre>");
    for event in &events {
        html.push_str(&esc(&format!(
            "{} {}\n",
            format_event(event.time),
            event.text
        )));
    }
    html.push_str("</pre>");
    for pod in pods.iter().filter(|p| p.current) {
        let dir = state.jobs_dir.pod(&job_id, &pod.pod_uid);
        let lines = read_log(
            &dir.join(opendlc_runtime::LOG_FILE),
            &LogQuery::last(LOG_LINES),
        )
        .unwrap_or_default();
        html.push_str(&format!("<h2>Log of {}</h2><pre>", esc(&pod.pod_id)));
        for line in lines {
            html.push_str(&esc(&line));
            html.push('\n');
        }
        html.push_str("</pre>");
    }
    html.push_str("</body></html>");
    Html(html).into_response()
}

/// HTML-escapes text.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

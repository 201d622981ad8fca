//! `/console/job-types.json`: the job types the submit form offers, each with its roles and a
//! line on what it runs. They come from [`JobType::ALL`], the list CreateJob checks against,
//! so the form offers exactly what the API accepts. Public, like the console's files: it
//! says nothing about this server or its jobs.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use opendlc_core::JobType;
use serde_json::{json, Value};

/// `{"JobTypes": [{"JobType": "PyTorchJob", "Roles": ["Master", "Worker"], "Description": …}]}`,
/// the most used type first.
pub fn document() -> Value {
    let types: Vec<Value> = JobType::ALL
        .iter()
        .map(|t| {
            json!({
                "JobType": t.as_str(),
                "Roles": t.roles().iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "Description": t.description(),
            })
        })
        .collect();
    json!({ "JobTypes": types })
}

pub async fn serve() -> Response {
    let mut response = axum::Json(document()).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_create_job_accepts_is_listed_with_its_roles() {
        let doc = document();
        let listed = doc["JobTypes"].as_array().unwrap();
        assert_eq!(listed.len(), JobType::ALL.len());
        for (item, t) in listed.iter().zip(JobType::ALL) {
            assert_eq!(item["JobType"], t.as_str());
            let roles: Vec<&str> = t.roles().iter().map(|r| r.as_str()).collect();
            assert_eq!(item["Roles"], json!(roles));
            assert_eq!(item["Description"], t.description());
        }
        assert_eq!(listed[0]["JobType"], "PyTorchJob", "the form's default");
    }
}

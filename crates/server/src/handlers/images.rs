//! ListImages (AIWorkspace 2021-02-04, `GET /api/v1/images`): the images jobs can name, so
//! that scripts which pick an image before submitting (PAI's `pai.py`) work unchanged.
//!
//! The list is the images this server knows: one per framework for host mode (pods run on the
//! host, the image is recorded, the framework must be installed there), the images declared
//! in `<data-dir>/images.yaml`, and those a local container engine (podman, docker) holds.
//! Filters: `Labels` (`k=v,k=v`, all must match), `Name` (substring), paging, `Order`
//! by `GmtCreateTime`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use axum::response::Response;
use opendlc_core::time::format_wire;
use serde::{Deserialize, Serialize};

use super::query;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// The file (in the data directory) that declares images.
pub const IMAGES_FILE: &str = "images.yaml";

/// Host-mode images: `(name, framework)`.
const HOST_IMAGES: &[(&str, &str)] = &[
    ("python:host", "Python"),
    ("pytorch:host", "PyTorch"),
    ("tensorflow:host", "TensorFlow"),
    ("xgboost:host", "XGBoost"),
    ("ray:host", "Ray"),
    ("openmpi:host", "MPI"),
];

/// One image as declared in `images.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Declared {
    name: String,
    image_uri: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Label {
    key: String,
    value: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ImageView {
    image_id: String,
    name: String,
    image_uri: String,
    description: String,
    labels: Vec<Label>,
    accessibility: &'static str,
    gmt_create_time: String,
    gmt_modified_time: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListImagesBody {
    request_id: String,
    total_count: i64,
    images: Vec<ImageView>,
}

fn image(
    id: String,
    name: String,
    uri: String,
    description: String,
    labels: BTreeMap<String, String>,
    created: String,
) -> ImageView {
    ImageView {
        image_id: id,
        name,
        image_uri: uri,
        description,
        labels: labels
            .into_iter()
            .map(|(key, value)| Label { key, value })
            .collect(),
        accessibility: "PUBLIC",
        gmt_modified_time: created.clone(),
        gmt_create_time: created,
    }
}

fn host_images(has_gpu: bool, started: &str) -> Vec<ImageView> {
    let mut out = Vec::new();
    for (i, (name, framework)) in HOST_IMAGES.iter().enumerate() {
        let chips: &[&str] = if has_gpu { &["CPU", "GPU"] } else { &["CPU"] };
        for chip in chips {
            let (repo, _) = name.split_once(':').unwrap_or((name, ""));
            let name = format!("{repo}:host-{}", chip.to_lowercase());
            let labels = BTreeMap::from([
                ("system.chipType".to_string(), chip.to_string()),
                ("system.framework".to_string(), framework.to_string()),
                ("system.official".to_string(), "true".to_string()),
                ("system.supported.dlc".to_string(), "true".to_string()),
                ("opendlc.runtime".to_string(), "host".to_string()),
            ]);
            out.push(image(
                format!("image-host-{i}-{}", chip.to_lowercase()),
                name.clone(),
                format!("host/{name}"),
                format!(
                    "Runs on this host without a container: {framework} must be installed here."
                ),
                labels,
                started.to_string(),
            ));
        }
    }
    out
}

fn declared_images(data_dir: &Path) -> Result<Vec<ImageView>, ApiError> {
    let path = data_dir.join(IMAGES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ApiError::internal("read images.yaml", e)),
    };
    let declared: Vec<Declared> =
        serde_yaml_ng::from_str(&text).map_err(|e| ApiError::internal("parse images.yaml", e))?;
    Ok(declared
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let mut labels = d.labels;
            labels
                .entry("system.supported.dlc".into())
                .or_insert_with(|| "true".into());
            image(
                format!("image-declared-{i}"),
                d.name,
                d.image_uri,
                d.description,
                labels,
                String::new(),
            )
        })
        .collect())
}

/// Images a local podman or docker holds (`<engine> images`), if one is installed.
async fn engine_images() -> Vec<ImageView> {
    for engine in ["podman", "docker"] {
        let output = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::process::Command::new(engine)
                .args(["images", "--format", "{{.Repository}}:{{.Tag}}\t{{.ID}}"])
                .kill_on_drop(true)
                .output(),
        )
        .await;
        let Ok(Ok(output)) = output else { continue };
        if !output.status.success() {
            continue;
        }
        return String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .filter(|(name, _)| !name.contains("<none>"))
            .map(|(name, id)| {
                let labels = BTreeMap::from([
                    ("system.supported.dlc".to_string(), "true".to_string()),
                    ("opendlc.runtime".to_string(), engine.to_string()),
                ]);
                let short = name.rsplit('/').next().unwrap_or(name).to_string();
                image(
                    format!("image-{engine}-{id}"),
                    short,
                    name.to_string(),
                    format!("In the local {engine} image store."),
                    labels,
                    String::new(),
                )
            })
            .collect();
    }
    Vec::new()
}

fn param<'a>(request: &'a ApiRequest, name: &str) -> Option<&'a str> {
    request
        .query
        .iter()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

pub async fn list(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for pair in param(request, "Labels").unwrap_or_default().split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            ApiError::invalid("Labels", format!("each must be key=value, got \"{pair}\""))
        })?;
        wanted.push((k.trim().to_string(), v.trim().to_string()));
    }
    let name = param(request, "Name").map(str::to_lowercase);
    let parse = |field: &str, default: u64, max: u64| -> Result<u64, ApiError> {
        let value = param(request, field)
            .map(|t| {
                t.parse::<i64>().map_err(|_| {
                    ApiError::invalid(field, format!("must be an integer, got \"{t}\""))
                })
            })
            .transpose()?;
        query::count(value, field, default, max)
    };
    let page_size = parse("PageSize", 20, 100)?;
    let page_number = parse("PageNumber", 1, 100_000)?;
    let descending = query::descending(&param(request, "Order").map(String::from), true)?;

    let started = format_wire(state.started);
    let mut images = host_images(state.pool.gpu > 0, &started);
    images.extend(declared_images(&state.data_dir)?);
    images.extend(engine_images().await);
    images.retain(|img| {
        wanted.iter().all(|(k, v)| {
            img.labels
                .iter()
                .any(|l| &l.key == k && l.value.eq_ignore_ascii_case(v))
        }) && name
            .as_ref()
            .is_none_or(|n| img.name.to_lowercase().contains(n))
    });
    images.sort_by(|a, b| {
        a.gmt_create_time
            .cmp(&b.gmt_create_time)
            .then(a.name.cmp(&b.name))
    });
    if descending {
        images.reverse();
    }
    let total = images.len() as i64;
    let page = images
        .into_iter()
        .skip(((page_number - 1) * page_size) as usize)
        .take(page_size as usize)
        .collect();
    ok(&ListImagesBody {
        request_id: request.request_id.clone(),
        total_count: total,
        images: page,
    })
}

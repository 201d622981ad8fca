//! ListEcsSpecs: the instance-type catalog, marked available where a pod of that type fits the
//! pool.

use axum::response::Response;
use opendlc_api::{EcsSpec, ListEcsSpecsRequest, ListEcsSpecsResponseBody};
use opendlc_core::catalog::{InstanceType, CATALOG};

use super::query;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

pub fn list(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = ListEcsSpecsRequest::from_query(&request.query)?;
    let accelerator = query::text(&q.accelerator_type);
    if let Some(a) = &accelerator {
        if !a.eq_ignore_ascii_case("CPU") && !a.eq_ignore_ascii_case("GPU") {
            return Err(ApiError::invalid(
                "AcceleratorType",
                format!("must be CPU or GPU, got \"{a}\""),
            ));
        }
    }
    let resource_type = query::text(&q.resource_type).unwrap_or_else(|| "ECS".into());
    let wanted = query::list(&q.instance_types);
    let mut specs: Vec<&InstanceType> = CATALOG
        .iter()
        .filter(|_| resource_type.eq_ignore_ascii_case("ECS"))
        .filter(|t| {
            accelerator
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case(t.accelerator_type()))
        })
        .filter(|t| wanted.is_empty() || wanted.iter().any(|w| w == t.name))
        .collect();
    let descending = query::descending(&q.order, false)?;
    let sort = query::text(&q.sort_by).unwrap_or_else(|| "GmtCreateTime".into());
    match sort.to_ascii_lowercase().as_str() {
        "cpu" => specs.sort_by_key(|t| (t.cpu, t.memory_gib)),
        "gpu" => specs.sort_by_key(|t| (t.gpu, t.cpu)),
        "memory" => specs.sort_by_key(|t| (t.memory_gib, t.cpu)),
        "gmtcreatetime" => {}
        _ => {
            return Err(ApiError::invalid(
                "SortBy",
                format!("must be Cpu, Gpu, Memory or GmtCreateTime, got \"{sort}\""),
            ))
        }
    }
    if descending {
        specs.reverse();
    }
    let page_size = query::count(q.page_size, "PageSize", 10, 100)?;
    let page = query::count(q.page_number, "PageNumber", 1, 1000)?;
    let total = specs.len();
    let ecs_specs = specs
        .into_iter()
        .skip(((page - 1) * page_size) as usize)
        .take(page_size as usize)
        .map(|t| ecs_spec(t, state))
        .collect();
    ok(&ListEcsSpecsResponseBody {
        request_id: Some(request.request_id.clone()),
        ecs_specs: Some(ecs_specs),
        total_count: Some(total as i64),
    })
}

/// An instance type as this server offers it: available where a pod of it fits the pool; for
/// spot, in stock where it fits the pool's spot limit, at the discount the capacity file sets.
fn ecs_spec(t: &InstanceType, state: &AppState) -> EcsSpec {
    let available = t.resources().fits_in(&state.pool);
    let spot_stock = if available && t.resources().fits_in(&state.spot_limit) {
        "WithStock"
    } else {
        "NoStock"
    };
    EcsSpec {
        instance_type: Some(t.name.to_string()),
        accelerator_type: Some(t.accelerator_type().to_string()),
        cpu: Some(t.cpu.into()),
        memory: Some(t.memory_gib.into()),
        gpu: Some(t.gpu.into()),
        gpu_type: Some(t.gpu_type.to_string()),
        gpu_memory: Some(t.gpu_memory_gib.into()),
        is_available: Some(available),
        resource_type: Some("ECS".into()),
        payment_types: Some(vec!["PostPaid".into(), "Spot".into()]),
        spot_stock_status: Some(spot_stock.into()),
        non_protect_spot_discount: state.prices.map(|p| p.spot_discount),
        ..Default::default()
    }
}

//! `opendlc specs`: ListEcsSpecs as a table.

use opendlc_api::endpoints::ListEcsSpecs;
use opendlc_api::ListEcsSpecsRequest;

use crate::error::{exit, Result};
use crate::output::{cell, print_document, Format, Table};
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc specs
  opendlc specs --accelerator-type GPU --sort-by Gpu
  opendlc specs --instance-types ecs.c6.large,ecs.c6.xlarge -o yaml";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// CPU or GPU.
    #[arg(long)]
    pub accelerator_type: Option<String>,
    /// Instance types, comma-separated.
    #[arg(long)]
    pub instance_types: Option<String>,
    /// Sort by Cpu, Gpu, Memory or GmtCreateTime.
    #[arg(long)]
    pub sort_by: Option<String>,
    /// asc or desc.
    #[arg(long)]
    pub order: Option<String>,
    /// Specs per page.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub page_size: i64,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let request = ListEcsSpecsRequest {
        accelerator_type: args.accelerator_type,
        instance_types: args.instance_types,
        sort_by: args.sort_by,
        order: args.order,
        page_size: Some(args.page_size),
        ..Default::default()
    };
    let reply = ctx.client()?.call::<ListEcsSpecs>(&[], &request)?;
    if ctx.format() != Format::Table {
        print_document(ctx.format(), &reply.raw)?;
        return Ok(exit::OK);
    }
    let mut table = Table::new(&[
        "INSTANCE TYPE",
        "ACCELERATOR",
        "CPU",
        "MEMORY (GiB)",
        "GPU",
        "GPU TYPE",
        "AVAILABLE",
    ]);
    for spec in reply.body.ecs_specs.unwrap_or_default() {
        table.row(vec![
            cell(&spec.instance_type),
            cell(&spec.accelerator_type),
            cell(&spec.cpu),
            cell(&spec.memory),
            cell(&spec.gpu),
            cell(&spec.gpu_type),
            cell(&spec.is_available),
        ]);
    }
    table.print()?;
    Ok(exit::OK)
}

//! Wire types of the PAI-DLC 2020-12-03 API, shared by the server and the CLI.
//!
//! Everything here mirrors the wire exactly: field names and their quirks come from the spec
//! (`GmtSuccessedTime`, `RequestID` in the sanity-check responses, `JodId`, lower-case
//! `isShared`/`token`/`url`/`metricsEnabled` on the dashboard calls, `IsCheif`), every field is
//! optional, and unknown fields are ignored. Validation into domain types happens elsewhere,
//! once, at the edge.
//!
//! - Generated types: one struct per spec schema ([`JobSpec`], [`EcsSpec`], …), and per
//!   operation `Xxx` an `XxxRequest` (query string or JSON body; path parameters are not part
//!   of it) and an `XxxResponseBody`, with inline objects named as the official SDK names them
//!   ([`GetJobResponseBodyPods`]). Regenerate with `python3 crates/api/codegen/generate.py`.
//!   The spec lacks some fields the official SDK (1.11.6) sends or reads; the generator adds
//!   them from a table (`SDK_FIELDS`, `SDK_SCHEMAS`), their docs say "Not in the spec", and
//!   the crate README lists them.
//! - [`OPERATIONS`], [`Operation`], [`endpoints`]: the routing table, and one marker type per
//!   operation tying it to its request and response types ([`Endpoint`]).
//! - [`Action`]: one enum variant per operation (generated beside the table), so that code
//!   dispatching on the operation matches exhaustively; [`Action::route`] resolves a method
//!   and raw path to it.
//! - `XxxRequest::from_query` / `to_query` ([`QueryRequest`]) and [`parse_body`]: reading
//!   requests, with errors that name the field ([`FieldError`]).
//! - [`ErrorBody`], [`ErrorCode`]: the error envelope.
//!
//! ```
//! use opendlc_api::{parse_body, Action, CreateJobRequest, ListJobsRequest, Operation};
//!
//! let (op, params) = Operation::route("GET", "/api/v1/jobs/dlc1").unwrap();
//! assert_eq!((op.action, params), ("GetJob", vec!["dlc1"]));
//! assert_eq!(Action::route("GET", "/api/v1/jobs/dlc1").unwrap().0, Action::GetJob);
//! assert_eq!("GetJob".parse::<Action>(), Ok(Action::GetJob));
//!
//! let query = vec![("ShowOwn".to_string(), "True".to_string())];
//! assert_eq!(ListJobsRequest::from_query(&query).unwrap().show_own, Some(true));
//!
//! let err = parse_body::<CreateJobRequest>(br#"{"JobSpecs":[{"PodCount":"2"}]}"#).unwrap_err();
//! assert_eq!(err.field, "JobSpecs[0].PodCount");
//! ```
//!
//! No I/O happens in this crate.

mod action;
mod body;
mod envelope;
mod error;
mod generated;
pub mod ledger;
mod operation;
pub mod query;
pub mod signature;

pub use action::UnknownAction;
pub use body::parse_body;
pub use envelope::{ErrorBody, ErrorCode};
pub use error::FieldError;
pub use generated::*;
pub use operation::{Endpoint, Operation, RequestEncoding};
pub use query::{FromQueryValue, QueryRequest, ToQueryValue};

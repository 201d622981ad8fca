//! Bad input gives an error that names the field and the rule; the error envelope is exact.

mod support;

use opendlc_api::*;
use serde_json::json;
use support::pairs;

#[test]
fn a_bad_boolean_names_the_parameter() {
    let err = ListJobsRequest::from_query(&pairs(&[("ShowOwn", "yes")])).unwrap_err();
    assert_eq!(err.field, "ShowOwn");
    assert_eq!(
        err.to_string(),
        r#"Invalid parameter ShowOwn: expected a boolean (true or false), got "yes""#
    );
}

#[test]
fn booleans_in_every_spelling() {
    for (raw, want) in [
        ("True", true),
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("False", false),
        ("false", false),
        ("FALSE", false),
        ("0", false),
    ] {
        let r = GetJobRequest::from_query(&pairs(&[("NeedDetail", raw)])).unwrap();
        assert_eq!(r.need_detail, Some(want), "{raw}");
    }
}

#[test]
fn a_bad_integer_names_the_parameter() {
    let err = ListJobsRequest::from_query(&pairs(&[("PageSize", "ten")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Invalid parameter PageSize: expected an integer, got "ten""#
    );
    let err = ListJobsRequest::from_query(&pairs(&[("PageSize", "1.5")])).unwrap_err();
    assert_eq!(err.field, "PageSize");
}

#[test]
fn long_bad_values_are_cut_short_in_the_message() {
    let long = "x".repeat(500);
    let err = ListJobsRequest::from_query(&pairs(&[("PageSize", &long)])).unwrap_err();
    assert!(err.message.len() < 120, "{}", err.message);
    assert!(err.message.ends_with('…'));
}

#[test]
fn an_empty_value_is_absent_except_for_strings() {
    let r = ListJobsRequest::from_query(&pairs(&[
        ("PageSize", ""),
        ("ShowOwn", ""),
        ("Tags", ""),
        ("DisplayName", ""),
    ]))
    .unwrap();
    assert_eq!(r.page_size, None);
    assert_eq!(r.show_own, None);
    assert_eq!(r.tags, None);
    assert_eq!(r.display_name.as_deref(), Some(""));
}

#[test]
fn unknown_query_keys_are_ignored_and_the_last_repeat_wins() {
    let r = ListJobsRequest::from_query(&pairs(&[
        ("Nonsense", "1"),
        ("PageSize", "1"),
        ("PageSize", "2"),
    ]))
    .unwrap();
    assert_eq!(r.page_size, Some(2));
    // An operation without query parameters accepts anything.
    assert_eq!(
        StopJobRequest::from_query(&pairs(&[("x", "y")])).unwrap(),
        StopJobRequest {}
    );
}

#[test]
fn tags_must_be_a_json_object() {
    let err = ListJobsRequest::from_query(&pairs(&[("Tags", "owner=sdk")])).unwrap_err();
    assert_eq!(err.field, "Tags");
    assert!(
        err.message.starts_with("expected a JSON object"),
        "{}",
        err.message
    );
    // Flattened `Tags.<key>` (older clients) works too.
    let r = ListJobsRequest::from_query(&pairs(&[("Tags.owner", "sdk")])).unwrap();
    assert_eq!(r.tags.unwrap()["owner"], "sdk");
}

#[test]
fn token_settings_errors_name_the_dotted_key() {
    let err =
        GetTokenRequest::from_query(&pairs(&[("TokenSettings.EnableLogDownloadJob", "maybe")]))
            .unwrap_err();
    assert_eq!(err.field, "TokenSettings.EnableLogDownloadJob");
    // An empty nested value leaves the object unset; JSON for the whole object also works.
    let r =
        GetTokenRequest::from_query(&pairs(&[("TokenSettings.EnableLogDownloadJob", "")])).unwrap();
    assert_eq!(r.token_settings, None);
    let r = GetTokenRequest::from_query(&pairs(&[(
        "TokenSettings",
        r#"{"EnableLogDownloadJob":true}"#,
    )]))
    .unwrap();
    assert_eq!(
        r.token_settings.unwrap().enable_log_download_job,
        Some(true)
    );
}

#[test]
fn a_body_type_error_names_the_field_path() {
    let err = parse_body::<CreateJobRequest>(br#"{"JobSpecs":[{"Type":"Worker","PodCount":"2"}]}"#)
        .unwrap_err();
    assert_eq!(err.field, "JobSpecs[0].PodCount");
    assert_eq!(err.message, r#"invalid type: string "2", expected i64"#);
    assert_eq!(
        err.to_string(),
        r#"Invalid parameter JobSpecs[0].PodCount: invalid type: string "2", expected i64"#
    );

    let err = parse_body::<CreateJobRequest>(br#"{"Envs":{"A":1}}"#).unwrap_err();
    assert_eq!(err.field, "Envs.A");

    // TensorBoard priority is a string; a job's is an integer.
    let err = parse_body::<CreateTensorboardRequest>(br#"{"Priority":1}"#).unwrap_err();
    assert_eq!(err.field, "Priority");
    let err = parse_body::<UpdateJobRequest>(br#"{"Priority":"1"}"#).unwrap_err();
    assert_eq!(err.field, "Priority");
}

#[test]
fn a_body_that_is_not_json_says_so() {
    let err = parse_body::<CreateJobRequest>(b"{\"DisplayName\":").unwrap_err();
    assert_eq!(err.field, "");
    assert!(
        err.to_string()
            .starts_with("the request body is not valid JSON: "),
        "{err}"
    );
    let err = parse_body::<CreateJobRequest>(b"{} trailing").unwrap_err();
    assert!(
        err.message
            .starts_with("the request body is not valid JSON"),
        "{err}"
    );
    let err = parse_body::<CreateJobRequest>(b"DisplayName=x").unwrap_err();
    assert!(
        err.message
            .starts_with("the request body is not valid JSON"),
        "{err}"
    );
}

#[test]
fn a_body_must_be_an_object() {
    let err = parse_body::<CreateJobRequest>(br#"["x"]"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the request body must be a JSON object, got an array"
    );
    let err = parse_body::<CreateJobRequest>(b"  ").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the request body is empty, expected a JSON object"
    );
}

#[test]
fn error_body_always_carries_all_five_fields() {
    let body = ErrorBody::new(
        ErrorCode::JobNotFound,
        "The job dlc-nope does not exist.",
        "5B4B9F5C",
        "127.0.0.1:8080",
    );
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({"RequestId": "5B4B9F5C", "HostId": "127.0.0.1:8080", "Code": "EntityNotFound.Job",
               "Message": "The job dlc-nope does not exist.", "Recommend": ""})
    );
    assert_eq!(body.error_code(), Some(ErrorCode::JobNotFound));
    // A client reads the lower-case spellings the SDK also accepts, and missing fields.
    let read: ErrorBody =
        serde_json::from_str(r#"{"code":"Throttling","message":"slow down"}"#).unwrap();
    assert_eq!(read.code, "Throttling");
    assert_eq!(read.message, "slow down");
    assert_eq!(read.request_id, "");
}

#[test]
fn error_codes_and_statuses() {
    let expected = [
        ("InvalidParameter", 400),
        ("MissingParameter", 400),
        ("IncorrectStatus", 400),
        ("EntityNotFound.Job", 404),
        ("EntityNotFound.Pod", 404),
        ("EntityNotFound.Tensorboard", 404),
        ("EntityNotFound.Workspace", 404),
        ("InvalidAction.NotFound", 404),
        ("OperationForbidden", 403),
        ("Forbidden", 403),
        ("IncompleteSignature", 400),
        ("SignatureDoesNotMatch", 403),
        ("SignatureNonceUsed", 400),
        ("InvalidTimeStamp.Expired", 400),
        ("InvalidAccessKeyId.NotFound", 404),
        ("RequestTooLarge", 413),
        ("RequestTimeout", 408),
        ("Throttling", 429),
        ("NotImplemented", 501),
        ("InternalError", 500),
        ("ServiceUnavailable", 503),
    ];
    assert_eq!(ErrorCode::ALL.len(), expected.len());
    for (code, status) in expected {
        let parsed = ErrorCode::from_code(code).unwrap_or_else(|| panic!("{code}"));
        assert_eq!(parsed.as_str(), code);
        assert_eq!(parsed.to_string(), code);
        assert_eq!(parsed.status(), status, "{code}");
    }
    assert_eq!(ErrorCode::from_code("NoSuchCode"), None);
}

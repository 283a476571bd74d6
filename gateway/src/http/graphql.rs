//! `/graphql` following the GraphQL over HTTP specification: media types
//! `application/graphql-response+json` (with its status codes) and `application/json`.

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ServerError, Variables};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::documents::Refused;
use super::metrics::AccessNote;
use crate::auth::{Verified, Viewer};
use crate::graphql::with_viewer;
use crate::state::AppState;
use hub::audit::Recorded;
use hub::audit::Trail;
use hub::policy::Scope;
use hub::store::{Memory, Reader, ScopedStore};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// Which media type the client accepts for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    GraphqlResponseJson,
    Json,
}

impl Media {
    fn from_headers(headers: &HeaderMap) -> Media {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        if accept.contains(GRAPHQL_RESPONSE_JSON) {
            Media::GraphqlResponseJson
        } else {
            Media::Json
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        })
    }

    /// Status for a well-formed request whose document does not parse or validate.
    fn request_error_status(self) -> StatusCode {
        match self {
            Media::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            Media::Json => StatusCode::OK,
        }
    }
}

/// A GraphQL request's parameters, validated for type.
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
}

/// A request's parameters as sent: the query may be left out for a persisted query's hash.
struct Sent {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

impl Sent {
    /// The parameters to execute, the query found by its hash when only that was sent;
    /// otherwise the response to give.
    async fn resolve(self, state: &AppState, media: Media) -> Result<Params, Response> {
        use super::persisted::Lookup;
        let query = match state.persisted.resolve(self.query, self.extensions.as_ref()).await {
            Lookup::Query(query) => query,
            Lookup::NotFound => {
                // 200 as Apollo Server answers it: the client's link sends the query next.
                return Err(respond(
                    StatusCode::OK,
                    media,
                    &error_body("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND"),
                ));
            }
            Lookup::Refused(reason) => return Err(bad_request(media, reason)),
        };
        Ok(Params {
            query,
            operation_name: self.operation_name,
            variables: self.variables,
        })
    }
}

fn error_body(message: &str, code: &str) -> Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

fn respond(status: StatusCode, media: Media, body: &Value) -> Response {
    respond_text(status, media, body.to_string())
}

fn respond_text(status: StatusCode, media: Media, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}

/// A document that does not parse or validate: 400 for graphql-response+json, 200 for json.
fn request_error(media: Media, message: &str) -> Response {
    respond(
        media.request_error_status(),
        media,
        &error_body(message, "BAD_USER_INPUT"),
    )
}

/// Not a well-formed GraphQL-over-HTTP request (body, JSON, parameter types): 400 for every media type.
fn bad_request(media: Media, message: &str) -> Response {
    respond(StatusCode::BAD_REQUEST, media, &error_body(message, "BAD_USER_INPUT"))
}

fn unauthenticated(media: Media) -> Response {
    let mut r = respond(
        StatusCode::UNAUTHORIZED,
        media,
        &error_body("a valid bearer token is required", "UNAUTHENTICATED"),
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// Why a request was not let in.
pub(crate) enum Refusal {
    Unauthenticated,
    RateLimited,
}

/// Verifies the bearer token (signature, claims, revocation), then counts the request
/// against its subject's rate limit.
pub(crate) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Refusal> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Unauthenticated)?;
    Ok(authenticate_bearer(state, value).await?.viewer)
}

/// As `authenticate`, for the value of an Authorization header (`Bearer …`) given elsewhere.
pub(crate) async fn authenticate_bearer(state: &AppState, value: &str) -> Result<Verified, Refusal> {
    let token = bearer_token(value).ok_or(Refusal::Unauthenticated)?;
    let verifier = state.verifier.as_ref().as_ref().ok_or(Refusal::Unauthenticated)?;
    let verified = verifier.verify(token).map_err(|e| {
        tracing::debug!(error = %e, "token rejected");
        Refusal::Unauthenticated
    })?;
    if let Some(jti) = &verified.jti {
        if state.revocations.is_revoked(jti).await {
            tracing::debug!(%jti, "revoked token");
            return Err(Refusal::Unauthenticated);
        }
    }
    if !state.rate_limiter.allow(&verified.viewer.sub).await {
        return Err(Refusal::RateLimited);
    }
    Ok(verified)
}

/// The token of an `Authorization: Bearer …` value; the scheme is case-insensitive (RFC 9110 §11.1).
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn refused(media: Media, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Unauthenticated => unauthenticated(media),
        Refusal::RateLimited => {
            let mut r = respond(
                StatusCode::TOO_MANY_REQUESTS,
                media,
                &error_body(
                    "too many requests for this subject; try again in a minute",
                    "LIMIT_EXCEEDED",
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            r
        }
    }
}

fn params_from_json(value: Value) -> Result<Sent, &'static str> {
    let Value::Object(mut map) = value else {
        return Err("the request body must be a JSON object");
    };
    let query = match map.remove("query") {
        Some(Value::String(q)) => Some(q),
        Some(_) => return Err("`query` must be a string"),
        None => None,
    };
    let operation_name = match map.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("`operationName` must be a string or null"),
    };
    let variables = match map.remove("variables") {
        None | Some(Value::Null) => None,
        Some(Value::Object(v)) => Some(v),
        Some(_) => return Err("`variables` must be a map or null"),
    };
    let extensions = match map.remove("extensions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(e)) => Some(e),
        Some(_) => return Err("`extensions` must be a map or null"),
    };
    Ok(Sent {
        query,
        operation_name,
        variables,
        extensions,
    })
}

fn is_json_content_type(headers: &HeaderMap) -> Result<(), &'static str> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err("a Content-Type header is required: application/json");
    };
    let value = value
        .to_str()
        .map_err(|_| "unreadable Content-Type")?
        .to_ascii_lowercase();
    let mut parts = value.split(';').map(str::trim);
    if parts.next() != Some("application/json") {
        return Err("the request body must be application/json");
    }
    for param in parts {
        if let Some(charset) = param.strip_prefix("charset=") {
            if !charset.trim_matches('"').eq_ignore_ascii_case("utf-8") {
                return Err("only the utf-8 charset is accepted");
            }
        }
    }
    Ok(())
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let media = Media::from_headers(&headers);
    if let Err(message) = is_json_content_type(&headers) {
        return closing(respond(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            &error_body(message, "BAD_USER_INPUT"),
        ));
    }
    // Decided from the headers alone: nothing of the body is read for a stranger.
    let viewer = match authenticate(&state, &headers).await {
        Ok(v) => v,
        Err(refusal) => return closing(refused(media, refusal)),
    };
    let body = match read_body(
        &state,
        &headers,
        body,
        state.config.max_body_bytes,
        std::time::Duration::ZERO,
    )
    .await
    {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return closing(respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                media,
                &error_body(
                    &format!("the request body is larger than {} bytes", state.config.max_body_bytes),
                    "LIMIT_EXCEEDED",
                ),
            ))
        }
        Err(BodyError::Slow) => {
            return respond(
                StatusCode::REQUEST_TIMEOUT,
                media,
                &error_body("the request body did not arrive in time", "LIMIT_EXCEEDED"),
            )
        }
        Err(BodyError::Broken) => return bad_request(media, "the request body could not be read"),
    };
    if body.is_empty() {
        return bad_request(media, "the request body is empty");
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return bad_request(media, "the request body is not valid JSON"),
    };
    let mut note = AccessNote {
        sub: Some(viewer.sub.clone()),
        ..Default::default()
    };
    let response = match params_from_json(value) {
        Ok(sent) => match sent.resolve(&state, media).await {
            Ok(params) => execute(&state, media, viewer, params, false, &mut note).await,
            Err(response) => response,
        },
        Err(message) => bad_request(media, message),
    };
    noted(note, response)
}

/// The response, with who asked and what they ran noted for the access log and metrics.
fn noted(note: AccessNote, mut response: Response) -> Response {
    response.extensions_mut().insert(note);
    response
}

/// A response sent before the request's body was read (or read whole): the connection is
/// closed after it, and says so, so a client does not reuse it with the body still in flight.
pub(crate) fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Why a request body was not read.
pub(crate) enum BodyError {
    TooLarge,
    Slow,
    Broken,
}

/// Reads a request body of at most `limit` bytes: each piece must arrive within
/// `read_timeout_ms` of the last, and the whole within `total`.
pub(crate) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    total: std::time::Duration,
) -> Result<Bytes, BodyError> {
    use futures_util::StreamExt;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let idle = std::time::Duration::from_millis(state.config.read_timeout_ms);
    let deadline = tokio::time::Instant::now() + total.max(idle);
    let mut stream = body.into_data_stream();
    let mut out = Vec::with_capacity(declared.map_or(0, |n| n as usize).min(limit));
    loop {
        let wait = tokio::time::Instant::now() + idle;
        match tokio::time::timeout_at(wait.min(deadline), stream.next()).await {
            Err(_) => return Err(BodyError::Slow),
            Ok(None) => return Ok(Bytes::from(out)),
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(piece))) => {
                if out.len() + piece.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                out.extend_from_slice(&piece);
            }
        }
    }
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = raw.as_deref().map(url_decode_pairs).unwrap_or_default();
    let find = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if find("query").is_none() && accept.contains("text/html") {
        return super::assets::graphiql_page();
    }
    let media = Media::from_headers(&headers);
    let viewer = match authenticate(&state, &headers).await {
        Ok(v) => v,
        Err(refusal) => return refused(media, refusal),
    };
    // A JSON-encoded map in the query string: absent, empty or null → none.
    let map_parameter = |name: &str| -> Result<Option<Map<String, Value>>, String> {
        match find(name)
            .filter(|v| !v.is_empty())
            .map(|t| serde_json::from_str::<Value>(&t))
        {
            None | Some(Ok(Value::Null)) => Ok(None),
            Some(Ok(Value::Object(map))) => Ok(Some(map)),
            Some(_) => Err(format!("`{name}` must be a JSON-encoded map")),
        }
    };
    let (variables, extensions) = match (map_parameter("variables"), map_parameter("extensions")) {
        (Ok(variables), Ok(extensions)) => (variables, extensions),
        (Err(message), _) | (_, Err(message)) => return bad_request(media, &message),
    };
    let sent = Sent {
        query: find("query"),
        operation_name: find("operationName").filter(|v| !v.is_empty()),
        variables,
        extensions,
    };
    let mut note = AccessNote {
        sub: Some(viewer.sub.clone()),
        ..Default::default()
    };
    let response = match sent.resolve(&state, media).await {
        Ok(params) => execute(&state, media, viewer, params, true, &mut note).await,
        Err(response) => response,
    };
    noted(note, response)
}

fn url_decode_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which operation the request selects (its type and name), if the document names it
/// unambiguously.
fn selected_operation(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> (Option<OperationType>, Option<String>) {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), name) => (Some(op.node.ty), name.map(str::to_string)),
        (DocumentOperations::Multiple(ops), Some(name)) => (ops.get(name).map(|op| op.node.ty), Some(name.to_string())),
        // A lone named operation is the selected one.
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (Some(op.node.ty), Some(name.to_string())))
            .unwrap_or((None, None)),
        (DocumentOperations::Multiple(_), None) => (None, None),
    }
}

/// How long `runSupervisionModel` may take (API.md: exempt from the request deadline and
/// bounded by its own limit).
const MODEL_RUN_BUDGET_MS: u64 = 600_000;

/// Whether the selected mutation calls `runSupervisionModel` at its root.
fn runs_a_model(document: &async_graphql::parser::types::ExecutableDocument, name: Option<&str>) -> bool {
    use async_graphql::parser::types::Selection;
    let operation = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) => ops.values().next(),
    };
    operation.is_some_and(|op| {
        op.node.selection_set.node.items.iter().any(|item| match &item.node {
            Selection::Field(field) => field.node.name.node == "runSupervisionModel",
            _ => false,
        })
    })
}

async fn execute(
    state: &AppState,
    media: Media,
    viewer: Viewer,
    params: Params,
    is_get: bool,
    note: &mut AccessNote,
) -> Response {
    let started = tokio::time::Instant::now();
    // Parsed once per distinct text (and within its budget): the schema executes this document.
    let parsed = match state.documents.parse(&params.query) {
        Ok(parsed) => parsed,
        Err(Refused::Budget(over)) => return limit_exceeded(media, &over.message()),
        Err(Refused::Syntax(message)) => return request_error(media, &message),
    };
    let (operation, operation_name) = selected_operation(&parsed.document, params.operation_name.as_deref());
    note.operation.clone_from(&operation_name);
    note.operation_type = operation.map(|t| match t {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    });
    let variables_json = params.variables.clone().map(Value::Object).unwrap_or(Value::Null);
    let query_hash = parsed.query_hash.clone();
    match operation {
        Some(OperationType::Mutation) if is_get => {
            let mut r = respond(
                StatusCode::METHOD_NOT_ALLOWED,
                media,
                &error_body("mutations must be sent with POST", "BAD_USER_INPUT"),
            );
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return r;
        }
        Some(OperationType::Subscription) => {
            return request_error(media, "subscriptions are served over WebSocket at /graphql/ws");
        }
        _ => {}
    }
    let open = introspection_open(state, &viewer);
    if !open && asks_for_introspection(&params.query) {
        return respond(
            StatusCode::OK,
            media,
            &error_body("introspection is not available to your role", "FORBIDDEN"),
        );
    }
    let budget_ms =
        if operation == Some(OperationType::Mutation) && runs_a_model(&parsed.document, operation_name.as_deref()) {
            MODEL_RUN_BUDGET_MS
        } else {
            state.config.request_timeout_ms
        };
    // Validated again only if this document did not pass before or the variables are not plain.
    let validated_before = parsed.validated_before(open)
        && super::documents::variables_plainly_conform(
            &parsed.document,
            params.operation_name.as_deref(),
            params.variables.as_ref(),
        );
    let passed_validation = crate::graphql::PassedValidation::default();
    let variables = params.variables.map(|vars| Variables::from_json(Value::Object(vars)));
    let request = |document| {
        let mut request = async_graphql::Request::new(params.query.clone());
        request.set_parsed_query(document);
        if let Some(name) = &params.operation_name {
            request = request.operation_name(name.clone());
        }
        if let Some(vars) = &variables {
            request = request.variables(vars.clone());
        }
        request.data(passed_validation.clone())
    };
    let schema = match (open, validated_before) {
        (true, false) => &state.schema,
        (false, false) => &state.restricted_schema,
        (true, true) => &state.schema_validated_before,
        (false, true) => &state.restricted_schema_validated_before,
    };
    if validated_before {
        state.metrics.documents_validated_before.inc();
    }
    // The budget covers the wait for a turn and the execution; dropping the execution at the
    // deadline cancels its database work. A model run is bounded by its own limit instead.
    let deadline = started + std::time::Duration::from_millis(budget_ms);
    let Ok(Ok(_turn)) = tokio::time::timeout_at(deadline, state.executing.acquire()).await else {
        return limit_exceeded(
            media,
            "the gateway is busy: the request found no turn within its time budget",
        );
    };
    // A query reads one snapshot, opened by its first statement (none when memory answers it);
    // a mutation writes on the pool. Memory answers as the linkage index has applied the
    // journal, and the response leaves only once the journal's head, read after the request
    // began (by the statement that writes its audit entry, or asked on its own when nothing is
    // handed out), is no later; otherwise it is computed again with memory brought current
    // first. A query that took answers from memory and then opened its snapshot is computed
    // again from the snapshot alone: a response is consistent with itself.
    let query = matches!(operation, Some(OperationType::Query));
    let cancelled = || {
        limit_exceeded(
            media,
            &format!("the request exceeded its time budget of {budget_ms} ms and was cancelled"),
        )
    };
    let mut memory = Memory::Assumed;
    let mut document = Some(parsed.document);
    let (response, masked) = loop {
        // The parsed document again (from the cache) for a second computation.
        let Some(document) = document
            .take()
            .or_else(|| state.documents.parse(&params.query).ok().map(|p| p.document))
        else {
            return respond(StatusCode::OK, media, &error_body("internal error", "INTERNAL"));
        };
        let reader = query.then(|| Reader::lazy_snapshot(&state.reads, memory, deadline.into_std()));
        let (request, trail, masked) = prepare(
            state,
            request(document),
            &viewer,
            reader.clone(),
            Some(deadline.into_std()),
        );
        let executed = tokio::time::timeout_at(deadline, schema.execute(request)).await;
        // The execution is over (or dropped at its deadline): the snapshot's reads are done.
        let mixed = reader.as_ref().is_some_and(Reader::mixed);
        let assumed = reader.as_ref().and_then(Reader::assumed);
        if let Some(reader) = reader {
            reader.end(executed.is_ok()).await;
        }
        let Ok(response) = executed else {
            tracing::warn!(sub = %viewer.sub, operation = ?operation_name, "request cancelled at its deadline");
            return cancelled();
        };
        if mixed && memory != Memory::No {
            state.metrics.queries_recomputed.inc();
            memory = Memory::No;
            continue;
        }
        let recorded = state
            .audit
            .record(
                &viewer,
                operation_name.as_deref(),
                &query_hash,
                &variables_json,
                &trail,
                assumed,
            )
            .await;
        let behind = match recorded {
            Ok(Recorded::Written) => false,
            // Nothing was recorded, so the head is asked on its own.
            Ok(Recorded::Nothing) => match (assumed, &state.links) {
                (Some(assumed), Some(index)) => {
                    match tokio::time::timeout_at(deadline, index.head_after(started.into_std())).await {
                        Ok(Ok(head)) => head > assumed,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "reading the linkage journal's head; computing again");
                            true
                        }
                        Err(_) => return cancelled(),
                    }
                }
                _ => false,
            },
            Ok(Recorded::Behind { .. }) => true,
            Err(e) => {
                // No audit entry, no personal data.
                tracing::error!(error = %e, sub = %viewer.sub, "audit entry could not be written; response withheld");
                return respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    media,
                    &error_body("internal error", "INTERNAL"),
                );
            }
        };
        if behind && memory == Memory::Assumed {
            state.metrics.queries_recomputed.inc();
            memory = Memory::Current;
            continue;
        }
        break (response, masked);
    };
    if passed_validation.passed() && !validated_before {
        state.documents.passed_validation(&params.query, open);
    }
    let (status, body) = response_body(media, response, masked);
    respond_text(status, media, body)
}

/// A GraphQL response as the body to send, with its status; every string masked for a masking
/// viewer (data and error messages alike). The data is written as executed, in the order of
/// its selections, without an intermediate JSON tree.
fn response_body(media: Media, response: async_graphql::Response, masked: bool) -> (StatusCode, String) {
    #[derive(serde::Serialize)]
    struct Body {
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<async_graphql::Value>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        errors: Vec<Value>,
    }
    let never_executed = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut errors: Vec<Value> = response.errors.into_iter().map(coded_error).collect();
    let mut data = (!(never_executed && media == Media::GraphqlResponseJson)).then_some(response.data);
    if masked {
        errors.iter_mut().for_each(hub::masking::mask_strings);
        if let Some(data) = &mut data {
            mask_graphql_strings(data);
        }
    }
    let status = if never_executed {
        media.request_error_status()
    } else {
        StatusCode::OK
    };
    let body = serde_json::to_string(&Body { data, errors })
        .unwrap_or_else(|_| error_body("internal error", "INTERNAL").to_string());
    (status, body)
}

/// `hub::masking::mask_strings` for a response's data as executed.
fn mask_graphql_strings(value: &mut async_graphql::Value) {
    use async_graphql::Value as V;
    match value {
        V::String(s) => {
            if let std::borrow::Cow::Owned(masked) = entities::ids::mask_text(s) {
                *s = masked;
            }
        }
        V::List(items) => items.iter_mut().for_each(mask_graphql_strings),
        V::Object(map) => map.values_mut().for_each(mask_graphql_strings),
        _ => {}
    }
}

/// A request refused or cut off by its budget (nesting, selections, time, turns).
fn limit_exceeded(media: Media, message: &str) -> Response {
    respond(
        media.request_error_status(),
        media,
        &error_body(message, "LIMIT_EXCEEDED"),
    )
}

/// A coded GraphQL error body with `status`, for routes outside `/graphql` too.
pub(crate) fn coded_response(status: StatusCode, message: &str, code: &str) -> Response {
    respond(status, Media::Json, &error_body(message, code))
}

/// Adds what executing `request` for `viewer` needs (scoped store, loaders, shared services);
/// returns it with the trail of what it hands out, for the audit log, and whether what leaves
/// must be masked.
/// `reader`: the snapshot the request reads (`None`: the pool); `budget_ends`: when its budget
/// ends (`None`: a subscription, which runs as long as it is wanted).
pub(crate) fn prepare(
    state: &AppState,
    request: async_graphql::Request,
    viewer: &Viewer,
    reader: Option<Reader>,
    budget_ends: Option<std::time::Instant>,
) -> (async_graphql::Request, Trail, bool) {
    let scope = Scope::for_viewer(viewer);
    let masked = scope.masked;
    let mut store = ScopedStore::new(state.db.clone(), scope).with_links(state.links.clone());
    if let Some(reader) = reader {
        store = store.reading(reader);
    }
    if let Some(ends) = budget_ends {
        store = store.within_budget(ends);
    }
    let trail = store.trail().clone();
    let request = with_viewer(request, viewer.clone(), store)
        .data(state.revocations.clone())
        .data(state.governance.clone())
        .data(state.inspections)
        .data(state.models.clone())
        .data(state.events.clone())
        .data(state.shared_states.clone());
    (request, trail, masked)
}

/// Whether this viewer gets the schema with introspection and suggestions.
pub(crate) fn introspection_open(state: &AppState, viewer: &Viewer) -> bool {
    match state.config.introspection.as_str() {
        "all" => true,
        "none" => false,
        _ => Scope::for_viewer(viewer).administers(),
    }
}

/// Does the query select `__schema` or `__type` (not `__typename`)?
pub(crate) fn asks_for_introspection(query: &str) -> bool {
    query.contains("__schema")
        || query.match_indices("__type").any(|(i, m)| {
            !query[i + m.len()..]
                .chars()
                .next()
                .map(|c| c.is_ascii_alphanumeric() || c == '_')
                .unwrap_or(false)
        })
}

/// Gives every error an `extensions.code`. Errors raised by our resolvers already have one
/// (`ApiError::extend`); the engine's own (parse, validation, input coercion, limits) do not,
/// and those are all caused by the request.
pub(crate) fn coded_error(mut error: ServerError) -> Value {
    let has_code = error
        .extensions
        .as_ref()
        .map(|ext| ext.get("code").is_some())
        .unwrap_or(false);
    if !has_code {
        let code = if error.message.contains("nested too deep")
            || error.message.contains("too complex")
            || error.message.contains("too many directives")
            || error.message.contains("ecursion")
        {
            "LIMIT_EXCEEDED"
        } else {
            "BAD_USER_INPUT"
        };
        error.extensions.get_or_insert_with(Default::default).set("code", code);
    }
    serde_json::to_value(&error).unwrap_or_else(|_| error_body("internal error", "INTERNAL")["errors"][0].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_written_in_selection_order_and_masked_for_a_masking_viewer() {
        let response = || {
            let data = async_graphql::value!({"zeta": "13912345678", "alpha": [{"b": 1, "a": "33072620020223162x"}]});
            let mut response = async_graphql::Response::new(data);
            response.errors.push(ServerError::new("no case 13912345678", None));
            response
        };
        let (status, plain) = response_body(Media::Json, response(), false);
        assert_eq!(status, StatusCode::OK);
        assert!(
            plain.starts_with(r#"{"data":{"zeta":"13912345678","alpha":[{"b":1,"a":"#),
            "{plain}"
        );
        let (_, masked) = response_body(Media::Json, response(), true);
        let masked: Value = serde_json::from_str(&masked).expect("JSON");
        assert_eq!(
            masked["data"],
            json!({"zeta": "139****5678", "alpha": [{"b": 1, "a": "330726********162X"}]})
        );
        assert_eq!(masked["errors"][0]["message"], "no case 139****5678");
        assert_eq!(masked["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }

    #[test]
    fn a_request_that_never_executed_has_no_data_in_graphql_response_json() {
        let response = || async_graphql::Response::from_errors(vec![ServerError::new("Unknown field", None)]);
        let (status, body) = response_body(Media::GraphqlResponseJson, response(), false);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(!body.contains("\"data\""), "{body}");
        let (status, body) = response_body(Media::Json, response(), false);
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\"data\":null"), "{body}");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("bEaReR  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    #[test]
    fn decodes_query_strings() {
        assert_eq!(percent_decode("%7B%20__typename%20%7D"), "{ __typename }");
        assert_eq!(percent_decode("a+b%"), "a b%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn recognises_introspection_and_lone_named_operations() {
        assert!(asks_for_introspection("{ __schema { types { name } } }"));
        assert!(asks_for_introspection("{ __type(name: \"Case\") { name } }"));
        assert!(!asks_for_introspection("{ __typename me { sub } }"));
        let document = async_graphql::parser::parse_query("mutation Revoke { revokeToken(jti: \"x\") }").unwrap();
        let (ty, name) = selected_operation(&document, None);
        assert_eq!((ty, name.as_deref()), (Some(OperationType::Mutation), Some("Revoke")));
    }

    #[test]
    fn validates_parameter_types() {
        assert!(params_from_json(json!({"query": "{a}"})).is_ok());
        assert!(params_from_json(json!({"query": 0})).is_err());
        assert!(params_from_json(json!({"query": "{a}", "variables": []})).is_err());
        assert!(params_from_json(json!({"query": "{a}", "operationName": false})).is_err());
        assert!(params_from_json(json!({"query": "{a}", "extensions": "x"})).is_err());
        assert!(params_from_json(json!(["x"])).is_err());
    }
}

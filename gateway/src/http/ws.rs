//! `GET /graphql/ws`: GraphQL over WebSocket, the `graphql-transport-ws` protocol.
//!
//! The token arrives in `connection_init` as `{"Authorization": "Bearer …"}` and is checked
//! as on `/graphql` (signature, claims, revocation); the connection closes when it expires.
//! Every message that carries case or party data is audited before it is sent, as a
//! response on `/graphql` is.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_graphql::Variables;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::documents::Refused;
use super::graphql::{asks_for_introspection, authenticate_bearer, coded_error, introspection_open, prepare, Refusal};
use crate::auth::{Verified, Viewer};
use crate::graphql::subscription::ExpensiveTurns;
use crate::state::AppState;

pub const PROTOCOL: &str = "graphql-transport-ws";
/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Operations one connection may run at once.
const MAX_OPERATIONS: usize = 100;
/// The largest message a client may send.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// How often an open connection checks that its token has not been revoked.
const REVOCATION_CHECK: Duration = Duration::from_secs(1);

pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(state, socket))
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }))
}

fn error_message(id: &str, message: &str, code: &str) -> Value {
    json!({"id": id, "type": "error", "payload": [{"message": message, "extensions": {"code": code}}]})
}

/// Waits for `connection_init` and checks its token; the close message when refused.
async fn handshake(state: &AppState, socket: &mut WebSocket) -> Result<Verified, Option<Message>> {
    let first = match tokio::time::timeout(INIT_TIMEOUT, socket.recv()).await {
        Err(_) => return Err(Some(close(4408, "Connection initialisation timeout"))),
        Ok(None) | Ok(Some(Err(_))) => return Err(None),
        Ok(Some(Ok(message))) => message,
    };
    let Message::Text(body) = first else {
        return Err(Some(close(4400, "Expected connection_init")));
    };
    let Ok(init) = serde_json::from_str::<Value>(body.as_str()) else {
        return Err(Some(close(4400, "Invalid message")));
    };
    if init["type"] != "connection_init" {
        return Err(Some(close(4400, "Expected connection_init")));
    }
    let bearer = init["payload"]
        .get("Authorization")
        .or_else(|| init["payload"].get("authorization"))
        .and_then(Value::as_str)
        .unwrap_or("");
    match authenticate_bearer(state, bearer).await {
        Ok(verified) => Ok(verified),
        Err(Refusal::Unauthenticated) => Err(Some(close(4403, "Forbidden"))),
        Err(Refusal::RateLimited) => Err(Some(close(4429, "Too many requests"))),
    }
}

fn until_expiry(exp: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Duration::from_secs(exp.saturating_sub(now))
}

async fn serve(state: AppState, mut socket: WebSocket) {
    if socket.protocol().is_none() {
        let _ = socket
            .send(close(4406, "Subprotocol not acceptable: use graphql-transport-ws"))
            .await;
        return;
    }
    let Verified { viewer, jti, exp } = match handshake(&state, &mut socket).await {
        Ok(v) => v,
        Err(message) => {
            if let Some(m) = message {
                let _ = socket.send(m).await;
            }
            return;
        }
    };
    if socket.send(text(json!({"type": "connection_ack"}))).await.is_err() {
        return;
    }
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(64);
    let mut operations: HashMap<String, JoinHandle<()>> = HashMap::new();
    let turns = ExpensiveTurns::new();
    let expiry = tokio::time::sleep(until_expiry(exp));
    tokio::pin!(expiry);
    let mut revocation_check = tokio::time::interval(REVOCATION_CHECK);
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { break };
                let body = match message {
                    Message::Text(body) => body,
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                    Message::Binary(_) => {
                        let _ = socket.send(close(4400, "Binary messages are not supported")).await;
                        break;
                    }
                };
                match handle(&state, &viewer, &turns, body.as_str(), &mut operations, &out_tx).await {
                    Ok(Some(reply)) => {
                        if socket.send(reply).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(closing) => {
                        let _ = socket.send(closing).await;
                        break;
                    }
                }
            }
            Some(outgoing) = out_rx.recv() => {
                if socket.send(outgoing).await.is_err() {
                    break;
                }
            }
            () = &mut expiry => {
                let _ = socket.send(close(4403, "Token expired")).await;
                break;
            }
            _ = revocation_check.tick() => {
                if token_revoked(&state, jti.as_deref()).await {
                    let _ = socket.send(close(4403, "Token revoked")).await;
                    break;
                }
            }
        }
    }
    for (_, operation) in operations {
        operation.abort();
    }
}

/// Whether the connection's token has been revoked since it was accepted.
async fn token_revoked(state: &AppState, jti: Option<&str>) -> bool {
    match jti {
        Some(jti) => state.revocations.is_revoked(jti).await,
        None => false,
    }
}

/// One client message after the handshake: a reply to send, nothing, or a close.
async fn handle(
    state: &AppState,
    viewer: &Viewer,
    turns: &ExpensiveTurns,
    body: &str,
    operations: &mut HashMap<String, JoinHandle<()>>,
    out: &mpsc::Sender<Message>,
) -> Result<Option<Message>, Message> {
    let message: Value = serde_json::from_str(body).map_err(|_| close(4400, "Invalid message"))?;
    match message["type"].as_str() {
        Some("ping") => Ok(Some(text(json!({"type": "pong"})))),
        Some("pong") => Ok(None),
        Some("connection_init") => Err(close(4429, "Too many initialisation requests")),
        Some("complete") => {
            if let Some(op) = message["id"].as_str().and_then(|id| operations.remove(id)) {
                op.abort();
            }
            Ok(None)
        }
        Some("subscribe") => {
            let id = message["id"]
                .as_str()
                .filter(|id| !id.is_empty())
                .ok_or_else(|| close(4400, "subscribe needs an id"))?
                .to_string();
            operations.retain(|_, op| !op.is_finished());
            if operations.contains_key(&id) {
                return Err(close(4409, &format!("Subscriber for {id} already exists")));
            }
            if operations.len() >= MAX_OPERATIONS {
                return Ok(Some(text(error_message(
                    &id,
                    &format!("at most {MAX_OPERATIONS} operations per connection"),
                    "LIMIT_EXCEEDED",
                ))));
            }
            let payload = &message["payload"];
            let Some(query) = payload["query"].as_str() else {
                return Err(close(4400, "subscribe needs payload.query"));
            };
            if !state.rate_limiter.allow(&viewer.sub).await {
                return Ok(Some(text(error_message(
                    &id,
                    "too many requests for this subject",
                    "LIMIT_EXCEEDED",
                ))));
            }
            let operation = Operation {
                id: id.clone(),
                query: query.to_string(),
                operation_name: payload["operationName"].as_str().map(str::to_string),
                variables: payload.get("variables").cloned().filter(Value::is_object),
            };
            let handle = tokio::spawn(run(
                state.clone(),
                viewer.clone(),
                turns.clone(),
                operation,
                out.clone(),
            ));
            operations.insert(id, handle);
            Ok(None)
        }
        _ => Err(close(4400, "Invalid message type")),
    }
}

struct Operation {
    id: String,
    query: String,
    operation_name: Option<String>,
    variables: Option<Value>,
}

/// Runs one operation, sending `next` for each result (after its audit entry is written),
/// then `complete`; or `error` when it cannot run.
async fn run(state: AppState, viewer: Viewer, turns: ExpensiveTurns, op: Operation, out: mpsc::Sender<Message>) {
    let open = introspection_open(&state, &viewer);
    if !open && asks_for_introspection(&op.query) {
        let _ = out
            .send(text(error_message(
                &op.id,
                "introspection is not available to your role",
                "FORBIDDEN",
            )))
            .await;
        return;
    }
    let refuse = |message: String, code: &'static str| text(error_message(&op.id, &message, code));
    let document = match state.documents.parse(&op.query) {
        Ok(parsed) => parsed.document,
        Err(Refused::Budget(over)) => {
            let _ = out.send(refuse(over.message(), "LIMIT_EXCEEDED")).await;
            return;
        }
        Err(Refused::Syntax(message)) => {
            let _ = out.send(refuse(message, "BAD_USER_INPUT")).await;
            return;
        }
    };
    // Queries and mutations sent over the socket have the request budget; subscriptions run
    // for as long as they are wanted.
    use async_graphql::parser::types::OperationType;
    let subscription = document
        .operations
        .iter()
        .any(|(_, o)| o.node.ty == OperationType::Subscription);
    // A document of queries alone (no mutation) reads one snapshot.
    let only_queries = document
        .operations
        .iter()
        .all(|(_, o)| o.node.ty == OperationType::Query);
    let schema = if open { &state.schema } else { &state.restricted_schema };
    let mut request = async_graphql::Request::new(op.query.clone());
    request.set_parsed_query(document);
    if let Some(name) = &op.operation_name {
        request = request.operation_name(name.clone());
    }
    let variables = op.variables.clone().unwrap_or(Value::Null);
    if op.variables.is_some() {
        request = request.variables(Variables::from_json(variables.clone()));
    }
    if !subscription {
        // Without memory: one snapshot answers the whole stream (no second computation here).
        let budget = Duration::from_millis(state.config.request_timeout_ms);
        let budget_ends = std::time::Instant::now() + budget;
        let reader =
            only_queries.then(|| hub::store::Reader::lazy_snapshot(&state.reads, hub::store::Memory::No, budget_ends));
        let (request, trail, masked) = prepare(&state, request, &viewer, reader.clone(), Some(budget_ends));
        let stream = run_stream(
            &state, &viewer, &op, schema, request, &trail, &variables, masked, &out, None,
        );
        let done = tokio::time::timeout(budget, stream).await;
        if let Some(reader) = reader {
            reader.end(done.is_ok()).await;
        }
        if done.is_err() {
            let message = format!(
                "the request exceeded its time budget of {} ms and was cancelled",
                budget.as_millis()
            );
            let _ = out.send(refuse(message, "LIMIT_EXCEEDED")).await;
        }
        return;
    }
    let reader = hub::store::Reader::following(&state.reads, Duration::from_millis(state.config.request_timeout_ms));
    let (request, trail, masked) = prepare(&state, request, &viewer, Some(reader.clone()), None);
    let request = request.data(turns);
    run_stream(
        &state,
        &viewer,
        &op,
        schema,
        request,
        &trail,
        &variables,
        masked,
        &out,
        Some(&reader),
    )
    .await;
}

/// Sends each result of `request` as `next` (after its audit entry is written, masked for a
/// masking viewer), then `complete`; or `error` when it cannot run. `following`: a
/// subscription's reader, whose reading ends as each result is computed (not held while the
/// message waits for a slow client).
#[allow(clippy::too_many_arguments)]
async fn run_stream(
    state: &AppState,
    viewer: &Viewer,
    op: &Operation,
    schema: &crate::graphql::QianchuanSchema,
    request: async_graphql::Request,
    trail: &hub::audit::Trail,
    variables: &Value,
    masked: bool,
    out: &mpsc::Sender<Message>,
    following: Option<&hub::store::Reader>,
) {
    let mut responses = schema.execute_stream(request);
    let mut first = true;
    while let Some(response) = responses.next().await {
        if let Some(reader) = following {
            reader.end_reading();
        }
        let never_executed = first
            && response.data == async_graphql::Value::Null
            && !response.errors.is_empty()
            && response.errors.iter().all(|e| e.path.is_empty());
        first = false;
        if never_executed {
            let errors: Vec<Value> = response.errors.into_iter().map(coded_error).collect();
            let _ = out
                .send(text(json!({"id": op.id, "type": "error", "payload": errors})))
                .await;
            return;
        }
        if let Err(e) = state
            .audit
            .record(
                viewer,
                op.operation_name.as_deref(),
                &hub::audit::query_hash(&op.query),
                variables,
                trail,
                None,
            )
            .await
        {
            // No audit entry, no personal data.
            tracing::error!(error = %e, sub = %viewer.sub, "audit entry could not be written; message withheld");
            let _ = out
                .send(text(error_message(&op.id, "internal error", "INTERNAL")))
                .await;
            return;
        }
        let mut payload = serde_json::Map::new();
        payload.insert("data".into(), response.data.into_json().unwrap_or(Value::Null));
        if !response.errors.is_empty() {
            let errors: Vec<Value> = response.errors.into_iter().map(coded_error).collect();
            payload.insert("errors".into(), Value::Array(errors));
        }
        let mut payload = Value::Object(payload);
        if masked {
            hub::masking::mask_strings(&mut payload);
        }
        let next = json!({"id": op.id, "type": "next", "payload": payload});
        if out.send(text(next)).await.is_err() {
            return;
        }
    }
    let _ = out.send(text(json!({"id": op.id, "type": "complete"}))).await;
}

//! The audit log: every request that returns case or party data leaves one
//! append-only entry — who, when, which operation, a hash of the query, the
//! variables with identifiers masked, and the ids of the cases and parties returned.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use entities::{audit_log, SubjectKind};
use sea_orm::{DatabaseConnection, EntityTrait, Set, TransactionTrait};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::viewer::Viewer;

/// What the data-access layer handed out during one request, and whether it looked cases
/// up at all (a count-only look-up hands out no ids but is audited all the same).
#[derive(Debug, Clone, Default)]
pub struct Trail(Arc<Mutex<Handed>>);

#[derive(Debug, Default)]
struct Handed {
    cases: BTreeSet<i64>,
    parties: BTreeSet<i64>,
    looked_up: bool,
}

/// What a trail handed out since its last entry.
#[derive(Debug, Default)]
pub struct Handout {
    pub cases: Vec<i64>,
    pub parties: Vec<i64>,
    pub looked_up: bool,
}

impl Handout {
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty() && self.parties.is_empty() && !self.looked_up
    }
}

impl Trail {
    pub fn cases(&self, ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut t) = self.0.lock() {
            t.cases.extend(ids);
            t.looked_up = true;
        }
    }

    pub fn parties(&self, ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut t) = self.0.lock() {
            t.parties.extend(ids);
            t.looked_up = true;
        }
    }

    /// Notes a look-up over cases (a count, an aggregate) whatever it returned.
    pub fn looked_up(&self) {
        if let Ok(mut t) = self.0.lock() {
            t.looked_up = true;
        }
    }

    /// What was handed out since the last call (a subscription writes one entry per message
    /// it sends).
    pub fn take(&self) -> Handout {
        self.0
            .lock()
            .map(|mut t| {
                let h = std::mem::take(&mut *t);
                Handout {
                    cases: h.cases.into_iter().collect(),
                    parties: h.parties.into_iter().collect(),
                    looked_up: h.looked_up,
                }
            })
            .unwrap_or_default()
    }
}

/// Masks every ID number and phone in every string (whole values and free text alike).
pub fn mask_identifiers(value: &Value) -> Value {
    let mut masked = value.clone();
    crate::masking::mask_strings(&mut masked);
    masked
}

/// How an entry names the document that was run: the SHA-256 of its text, in hex.
pub fn query_hash(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

/// One audit entry, ready to write.
struct Entry {
    at: chrono::DateTime<Utc>,
    sub: String,
    role: String,
    operation: Option<String>,
    query_hash: String,
    variables: Value,
    cases: Vec<i64>,
    parties: Vec<i64>,
    /// Written only if the linkage journal's head, read by the same statement, is no later
    /// than this (`Memory::Assumed`); always when `None`.
    assumed: Option<i64>,
}

/// What became of an audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written.
    Written,
    /// Nothing was handed out: nothing to write (and no journal head read).
    Nothing,
    /// Not written: the linkage journal's head, read after the request began, is later than
    /// the row memory answered as of — the response may miss a change and must be computed
    /// again.
    Behind { head: i64 },
}

/// What the writer answers for a group: the journal's head as its statement read it.
type Reply = oneshot::Sender<Result<i64, String>>;

/// Entries written together at most.
const GROUP: usize = 256;

/// How many turns the writer gives the runtime's other ready tasks before it writes a group:
/// requests they carry to their audit call join the group, so one commit serves more entries
/// (README, "Larger audit groups"). A turn with nothing else ready ends at once.
const YIELDS: usize = 8;

/// An entry waiting for its group, and where to answer.
type Queued = (Entry, Reply);

/// The group that starts with `first`: every entry queued, then those the runtime's other ready
/// tasks add in up to `YIELDS` turns; at most `GROUP`.
async fn gather(first: Queued, rx: &mut mpsc::Receiver<Queued>) -> Vec<Queued> {
    let mut group = vec![first];
    for turn in 0..=YIELDS {
        while group.len() < GROUP {
            match rx.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        if group.len() >= GROUP || turn == YIELDS {
            break;
        }
        tokio::task::yield_now().await;
    }
    group
}

/// Writes audit entries. Concurrent requests share one transaction (a group commit), and
/// each waits for the commit that holds its entry: an entry is durable before its data leaves.
/// A group gathers what other requests bring while the runtime runs them (`gather`).
/// On PostgreSQL a group is one statement on a connection of the writer's own (one round trip
/// and no pool hand-over per group); on SQLite, one transaction on the pool.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Queued>,
    /// Entries written since start (for `/metrics`).
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl AuditWriter {
    pub fn start(db: DatabaseConnection) -> AuditWriter {
        let own = crate::db::OwnConnection::new(db.clone(), AUDIT_CONNECTION);
        let (tx, mut rx) = mpsc::channel::<Queued>(4 * GROUP);
        let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = written.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let group = gather(first, &mut rx).await;
                let (entries, replies): (Vec<Entry>, Vec<Reply>) = group.into_iter().unzip();
                let n = entries.len() as u64;
                let assumed: Vec<Option<i64>> = entries.iter().map(|e| e.assumed).collect();
                let written = match db.get_database_backend() {
                    sea_orm::DbBackend::Postgres => write_group_postgres(&own, entries).await,
                    _ => write_group(&db, entries).await,
                };
                let outcome = written.map_err(|e| e.to_string());
                if let Ok(head) = outcome {
                    let n = n - entries_behind(&assumed, head);
                    counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                }
                for reply in replies {
                    let _ = reply.send(outcome.clone());
                }
            }
        });
        AuditWriter { tx, written }
    }

    /// Entries written since start.
    pub fn written(&self) -> u64 {
        self.written.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes the entry for what `trail` handed out since its last entry (nothing when it
    /// handed out nothing); an error means the response must not carry the data. `query_hash`:
    /// the document's `query_hash`. `assumed`: the entry is written only if the linkage
    /// journal's head is no later (`Recorded`).
    pub async fn record(
        &self,
        viewer: &Viewer,
        operation: Option<&str>,
        query_hash: &str,
        variables: &Value,
        trail: &Trail,
        assumed: Option<i64>,
    ) -> Result<Recorded, String> {
        let handout = trail.take();
        if handout.is_empty() {
            return Ok(Recorded::Nothing);
        }
        let Handout { cases, parties, .. } = handout;
        let entry = Entry {
            at: Utc::now(),
            sub: viewer.sub.clone(),
            role: viewer.role.as_str().into(),
            operation: operation.map(str::to_string),
            query_hash: query_hash.to_string(),
            variables: mask_identifiers(variables),
            cases,
            parties,
            assumed,
        };
        let (reply, done) = oneshot::channel();
        self.tx
            .send((entry, reply))
            .await
            .map_err(|_| "the audit writer stopped".to_string())?;
        let head = done.await.map_err(|_| "the audit writer stopped".to_string())??;
        Ok(match assumed {
            Some(assumed) if assumed < head => Recorded::Behind { head },
            _ => Recorded::Written,
        })
    }
}

/// How many of a group's entries, assuming `assumed`, were left out for a journal at `head`.
fn entries_behind(assumed: &[Option<i64>], head: i64) -> u64 {
    assumed.iter().filter(|a| a.is_some_and(|a| a < head)).count() as u64
}

/// The `application_name` of the audit writer's connection on PostgreSQL.
pub const AUDIT_CONNECTION: &str = "qianchuan audit";

/// A group of entries in one statement, which PostgreSQL runs as one transaction; each entry's
/// subjects (every case and party it cites) go into its `subject_keys`, under a GIN index,
/// given as an array literal of their own (parsing it is cheaper than reading the keys back out
/// of the entry's JSON lists). Entries whose `assumed` row is earlier than the linkage journal's
/// head (read by the same statement) are left out; answers the head, or -1 when the entries
/// written are not those that should have been.
const WRITE_GROUP_POSTGRES: &str = "WITH head AS (\
    SELECT COALESCE(MAX(seq), 0) AS seq FROM linkage_journal), \
    given AS (SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], \
    $6::json[], $7::json[], $8::json[], $9::bigint[], $10::text[]) \
    AS g(at, sub, role, operation, query_hash, variables, case_ids, party_ids, assumed, subject_keys) \
    WHERE g.assumed IS NULL OR g.assumed >= (SELECT seq FROM head)), \
    entry AS (\
    INSERT INTO audit_log (at, sub, role, operation, query_hash, variables, case_ids, party_ids, subject_keys) \
    SELECT at, sub, role, operation, query_hash, variables, case_ids, party_ids, subject_keys::bigint[] \
    FROM given RETURNING id) \
    SELECT CASE WHEN (SELECT count(*) FROM entry) = (SELECT count(*) FROM given) \
    THEN (SELECT seq FROM head) ELSE -1 END";

async fn write_group_postgres(own: &crate::db::OwnConnection, entries: Vec<Entry>) -> Result<i64, sea_orm::DbErr> {
    let rows: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!([
                e.at.to_rfc3339(),
                e.sub,
                e.role,
                e.operation,
                e.query_hash,
                e.variables.to_string(),
                json!(e.cases).to_string(),
                json!(e.parties).to_string(),
                e.assumed,
                subject_keys(&e.cases, &e.parties)
            ])
        })
        .collect();
    let params = entities::sql::postgres_column_arrays(10, &rows);
    match own.query_i64_with(WRITE_GROUP_POSTGRES, params).await? {
        Some(head) if head >= 0 => Ok(head),
        _ => Err(sea_orm::DbErr::RecordNotInserted),
    }
}

/// A subject's key among an entry's `subject_keys` on PostgreSQL: a case as its id, a party as
/// minus its id (written so here, searched so by `store::audit`).
pub(crate) fn subject_key(kind: SubjectKind, id: i64) -> i64 {
    match kind {
        SubjectKind::Case => id,
        SubjectKind::Party => -id,
    }
}

/// An entry's `subject_keys` as a PostgreSQL array literal (`subject_key` of each case, then of
/// each party).
fn subject_keys(cases: &[i64], parties: &[i64]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + 8 * (cases.len() + parties.len()));
    out.push('{');
    let keys = cases
        .iter()
        .map(|&c| subject_key(SubjectKind::Case, c))
        .chain(parties.iter().map(|&p| subject_key(SubjectKind::Party, p)));
    for (n, key) in keys.enumerate() {
        if n > 0 {
            out.push(',');
        }
        let _ = write!(out, "{key}");
    }
    out.push('}');
    out
}

/// Writes a group of entries in one transaction (SQLite): one statement for the entries, one
/// for their subjects' rows in `audit_subjects`. The linkage journal's head is read once the
/// entries are in (the write lock held, so it is the latest); entries whose `assumed` row is
/// earlier are taken out again before the commit. Answers the head.
async fn write_group(db: &DatabaseConnection, entries: Vec<Entry>) -> Result<i64, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let txn = db.begin().await?;
    let kept: Vec<(Option<i64>, Vec<i64>, Vec<i64>)> = entries
        .iter()
        .map(|e| (e.assumed, e.cases.clone(), e.parties.clone()))
        .collect();
    let rows = entries.into_iter().map(|e| audit_log::ActiveModel {
        at: Set(e.at),
        sub: Set(e.sub),
        role: Set(e.role),
        operation: Set(e.operation),
        query_hash: Set(e.query_hash),
        variables: Set(e.variables),
        case_ids: Set(json!(e.cases)),
        party_ids: Set(json!(e.parties)),
        ..Default::default()
    });
    // Ids are drawn in the order of the rows, so the sorted ids are the entries' in order.
    let mut ids = audit_log::Entity::insert_many(rows)
        .exec_with_returning_keys(&txn)
        .await?;
    if ids.len() != kept.len() {
        return Err(sea_orm::DbErr::RecordNotInserted);
    }
    ids.sort_unstable();
    let head = entities::linkage_journal::last_seq(&txn).await?;
    let (mut written, mut subjects, mut behind) = (Vec::new(), Vec::new(), Vec::new());
    for (id, (assumed, cases, parties)) in ids.into_iter().zip(kept) {
        if assumed.is_none_or(|a| a >= head) {
            written.push(id);
            subjects.push((cases, parties));
        } else {
            behind.push(id);
        }
    }
    if !behind.is_empty() {
        audit_log::Entity::delete_many()
            .filter(audit_log::Column::Id.is_in(behind))
            .exec(&txn)
            .await?;
    }
    let ids = written;
    let rows: Vec<serde_json::Value> = ids
        .iter()
        .zip(&subjects)
        .flat_map(|(audit, (cases, parties))| {
            cases
                .iter()
                .map(move |id| json!([audit, SubjectKind::Case.as_str(), id]))
                .chain(
                    parties
                        .iter()
                        .map(move |id| json!([audit, SubjectKind::Party.as_str(), id])),
                )
        })
        .collect();
    entities::sql::insert_json(
        &txn,
        "audit_subjects",
        &[("audit_id", "bigint"), ("kind", "text"), ("subject_id", "bigint")],
        &rows,
    )
    .await?;
    txn.commit().await?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_named_by_the_sha256_of_its_text() {
        assert_eq!(
            query_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn queued(case: i64) -> Queued {
        let entry = Entry {
            at: Utc::now(),
            sub: "s".into(),
            role: "plc".into(),
            operation: None,
            query_hash: query_hash("{ x }"),
            variables: Value::Null,
            cases: vec![case],
            parties: vec![],
            assumed: None,
        };
        (entry, oneshot::channel().0)
    }

    /// On one thread, the tasks that send run only when the writer gives them a turn.
    #[tokio::test]
    async fn a_group_takes_in_the_entries_of_tasks_ready_to_run() {
        let (tx, mut rx) = mpsc::channel::<Queued>(4 * GROUP);
        for case in 1..=3 {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(queued(case)).await.is_ok() });
        }
        let group = gather(queued(0), &mut rx).await;
        let cases: Vec<i64> = group.iter().map(|(e, _)| e.cases[0]).collect();
        assert_eq!(cases, [0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn a_group_holds_at_most_its_bound() {
        let (tx, mut rx) = mpsc::channel::<Queued>(4 * GROUP);
        for case in 0..GROUP as i64 + 10 {
            tx.send(queued(case)).await.unwrap();
        }
        let first = rx.recv().await.unwrap();
        assert_eq!(gather(first, &mut rx).await.len(), GROUP);
        let first = rx.recv().await.unwrap();
        assert_eq!(gather(first, &mut rx).await.len(), 10);
    }

    #[test]
    fn subject_keys_are_cases_then_parties_negated() {
        assert_eq!(subject_keys(&[3, 17], &[5]), "{3,17,-5}");
        assert_eq!(subject_keys(&[], &[9, 12]), "{-9,-12}");
        assert_eq!(subject_keys(&[], &[]), "{}");
    }

    #[test]
    fn identifiers_in_variables_are_masked() {
        let v = json!({"f": {"identifier": "11010519491231002x", "text": "张三"}, "phones": ["138 0571 1234"], "n": 3});
        assert_eq!(
            mask_identifiers(&v),
            json!({"f": {"identifier": "110105********002X", "text": "张三"}, "phones": ["138****1234"], "n": 3})
        );
        let v = json!({"title": "title with 330782197303202031 and 13912345678"});
        assert_eq!(
            mask_identifiers(&v),
            json!({"title": "title with 330782********2031 and 139****5678"})
        );
    }
}

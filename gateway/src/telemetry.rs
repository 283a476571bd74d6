//! The gateway's metrics, kept and rendered by `prometheus-client` (the Prometheus project's
//! Rust client) in the OpenMetrics text format, named per Prometheus conventions (units as
//! suffixes, `_total` on counters).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOperation {
    route: String,
    /// `query`, `mutation`, `subscription`, or `none` (not GraphQL, or refused before).
    operation_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedOutcome {
    feed: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabel {
    feed: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
/// The `state` label of a gauge family.
pub struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
/// The `database` label: `primary` or `replica`.
struct DatabaseLabel {
    database: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
/// The `kind` label of a counter family.
pub struct KindLabel {
    kind: String,
}

/// Request latencies from 1 ms to about 33 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// File loads from 10 ms to about 5.5 min.
fn load_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

/// What the gateway counts. Gauges of state owned elsewhere (pool, index, subscriptions) are
/// set when `/metrics` is read.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    durations: Family<RouteOperation, Histogram, fn() -> Histogram>,
    ingest_records: Family<FeedOutcome, Counter>,
    ingest_files: Family<FeedOutcome, Counter>,
    ingest_seconds: Family<FeedLabel, Histogram, fn() -> Histogram>,
    pub pool_connections: Family<StateLabel, Gauge>,
    pub db_failures: Family<KindLabel, Counter>,
    db_reads: Family<DatabaseLabel, Counter>,
    pub db_replicas: Family<StateLabel, Gauge>,
    document_lookups: Family<KindLabel, Counter>,
    case_cache_lookups: Family<KindLabel, Counter>,
    pub case_cache: Family<StateLabel, Gauge>,
    pub subscriptions: Gauge,
    subscription_states: Counter,
    pub link_index: Family<StateLabel, Gauge>,
    audit_entries: Counter,
    db_statements: Counter,
    pub queries_recomputed: Counter,
    pub documents_validated_before: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("qianchuan");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        let durations: Family<RouteOperation, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by route and GraphQL operation type",
            Unit::Seconds,
            durations.clone(),
        );
        let ingest_records = Family::<FeedOutcome, Counter>::default();
        registry.register(
            "ingest_records",
            "Records of files loaded through POST /ingest, by feed and outcome (inserted, updated, unchanged, deleted, quarantined)",
            ingest_records.clone(),
        );
        let ingest_files = Family::<FeedOutcome, Counter>::default();
        registry.register(
            "ingest_files",
            "Files posted to /ingest, by feed and outcome (loaded, rejected, failed)",
            ingest_files.clone(),
        );
        let ingest_seconds: Family<FeedLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(load_histogram);
        registry.register_with_unit(
            "ingest_file_duration",
            "Time to load one posted file, by feed",
            Unit::Seconds,
            ingest_seconds.clone(),
        );
        let pool_connections = Family::<StateLabel, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections of this instance's pool, by state (in_use, idle, max)",
            pool_connections.clone(),
        );
        let db_failures = Family::<KindLabel, Counter>::default();
        registry.register(
            "db_connection_failures",
            "Database calls that got no working connection, by kind: acquire_timeout (no free pool connection within QIANCHUAN_DATABASE_ACQUIRE_TIMEOUT_MS), connection (the database unreachable or the connection lost)",
            db_failures.clone(),
        );
        let db_reads = Family::<DatabaseLabel, Counter>::default();
        registry.register(
            "db_reads",
            "Reads routed (a query's snapshot, a subscription's statement), by database: primary, or a replica that had replayed every change committed before the read",
            db_reads.clone(),
        );
        let db_replicas = Family::<StateLabel, Gauge>::default();
        registry.register(
            "db_replicas",
            "Read replicas (QIANCHUAN_DATABASE_REPLICA_URLS) by state as last probed: up, down",
            db_replicas.clone(),
        );
        let document_lookups = Family::<KindLabel, Counter>::default();
        registry.register(
            "document_cache_lookups",
            "GraphQL documents looked up in the parsed-document cache, by kind: hit (parsed before), miss (parsed now)",
            document_lookups.clone(),
        );
        let case_cache_lookups = Family::<KindLabel, Counter>::default();
        registry.register(
            "case_cache_lookups",
            "Cases and parties of cases looked up in the case cache, by kind: hit (answered from memory), miss (read from the database and kept)",
            case_cache_lookups.clone(),
        );
        let case_cache = Family::<StateLabel, Gauge>::default();
        registry.register(
            "case_cache",
            "The case cache the linkage index keeps: cases, parties (entries), bytes (about), budget_bytes (QIANCHUAN_CASE_CACHE_MB)",
            case_cache.clone(),
        );
        let subscriptions = Gauge::default();
        registry.register(
            "subscriptions",
            "Live subscriptions on this instance",
            subscriptions.clone(),
        );
        let subscription_states = Counter::default();
        registry.register(
            "subscription_states_computed",
            "Subscription states computed since start (one per change, shared by the subscribers of one scope and arguments)",
            subscription_states.clone(),
        );
        let link_index = Family::<StateLabel, Gauge>::default();
        registry.register(
            "link_index",
            "The in-memory linkage index: ready (1/0), cases, keys, journal_applied (the last journal row applied), journal_behind (rows committed but not applied yet)",
            link_index.clone(),
        );
        let audit_entries = Counter::default();
        registry.register(
            "audit_entries_written",
            "Audit entries this instance has written since start",
            audit_entries.clone(),
        );
        let db_statements = Counter::default();
        registry.register(
            "db_primary_statements",
            "Statements sent through the primary database's pool since start (not the audit writer's own connection on PostgreSQL, nor replicas)",
            db_statements.clone(),
        );
        let queries_recomputed = Counter::default();
        registry.register(
            "queries_recomputed",
            "Queries that took answers from the case cache and then opened their snapshot, computed again from the snapshot alone (a response is consistent with itself)",
            queries_recomputed.clone(),
        );
        let documents_validated_before = Counter::default();
        registry.register(
            "documents_validated_before",
            "GraphQL requests run without validating their document again: it passed validation against the same schema before and the variables plainly have their declared types",
            documents_validated_before.clone(),
        );
        Metrics {
            queries_recomputed,
            documents_validated_before,
            registry,
            requests,
            durations,
            ingest_records,
            ingest_files,
            ingest_seconds,
            pool_connections,
            db_failures,
            db_reads,
            db_replicas,
            document_lookups,
            case_cache_lookups,
            case_cache,
            subscriptions,
            subscription_states,
            link_index,
            audit_entries,
            db_statements,
        }
    }
}

impl Metrics {
    /// One answered request.
    pub fn record(&self, route: &str, status: u16, operation_type: &str, seconds: f64) {
        self.requests
            .get_or_create(&RouteStatus {
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.durations
            .get_or_create(&RouteOperation {
                route: route.to_string(),
                operation_type: operation_type.to_string(),
            })
            .observe(seconds);
    }

    /// One file posted to `/ingest/{feed}`: its outcome (`loaded`, `rejected`, `failed`) and, when
    /// loaded, its counts.
    pub fn record_ingest(&self, feed: &str, outcome: &str, counts: &[(&str, u64)], seconds: f64) {
        let label = |outcome: &str| FeedOutcome {
            feed: feed.to_string(),
            outcome: outcome.to_string(),
        };
        self.ingest_files.get_or_create(&label(outcome)).inc();
        for (outcome, n) in counts {
            self.ingest_records.get_or_create(&label(outcome)).inc_by(*n);
        }
        self.ingest_seconds
            .get_or_create(&FeedLabel { feed: feed.to_string() })
            .observe(seconds);
    }

    /// Brings the counters kept elsewhere (monotonic totals since start) up to date.
    pub fn set_totals(
        &self,
        subscription_states: u64,
        audit_entries: u64,
        db_statements: u64,
        (timeouts, failures): (u64, u64),
        (primary_reads, replica_reads): (u64, u64),
    ) {
        // One guard of the family at a time: `get_or_create` of a new label waits for the
        // family's write lock, which a guard still held would never give.
        let advance = |counter: &Counter, total: u64| counter.inc_by(total.saturating_sub(counter.get()));
        for (kind, total) in [("acquire_timeout", timeouts), ("connection", failures)] {
            advance(&self.db_failures.get_or_create(&KindLabel { kind: kind.into() }), total);
        }
        for (database, total) in [("primary", primary_reads), ("replica", replica_reads)] {
            advance(
                &self.db_reads.get_or_create(&DatabaseLabel {
                    database: database.into(),
                }),
                total,
            );
        }
        advance(&self.subscription_states, subscription_states);
        advance(&self.audit_entries, audit_entries);
        advance(&self.db_statements, db_statements);
    }

    /// Brings the parsed-document cache's `(hits, misses)` since start up to date.
    pub fn set_document_lookups(&self, lookups: (u64, u64)) {
        Self::set_lookups(&self.document_lookups, lookups);
    }

    /// Brings the case cache's `(hits, misses)` since start up to date.
    pub fn set_case_cache_lookups(&self, lookups: (u64, u64)) {
        Self::set_lookups(&self.case_cache_lookups, lookups);
    }

    fn set_lookups(family: &Family<KindLabel, Counter>, (hits, misses): (u64, u64)) {
        for (kind, total) in [("hit", hits), ("miss", misses)] {
            let counter = family.get_or_create(&KindLabel { kind: kind.into() });
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    pub fn set_state(family: &Family<StateLabel, Gauge>, state: &str, value: i64) {
        family
            .get_or_create(&StateLabel {
                state: state.to_string(),
            })
            .set(value);
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_histograms_per_route_and_operation_type() {
        let m = Metrics::default();
        m.record("/graphql", 200, "query", 0.004);
        m.record("/graphql", 200, "query", 0.5);
        m.record_ingest("registry", "loaded", &[("inserted", 3), ("quarantined", 1)], 0.2);
        let text = m.render();
        assert!(
            text.contains("qianchuan_http_requests_total{route=\"/graphql\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("qianchuan_http_request_duration_seconds_bucket{le=\"0.008\",route=\"/graphql\",operation_type=\"query\"} 1")
                || text.contains("qianchuan_http_request_duration_seconds_bucket{route=\"/graphql\",operation_type=\"query\",le=\"0.008\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "qianchuan_http_request_duration_seconds_count{route=\"/graphql\",operation_type=\"query\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("qianchuan_ingest_records_total{feed=\"registry\",outcome=\"inserted\"} 3"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}

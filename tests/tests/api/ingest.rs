//! Loading exports: the samples' exact counts, idempotency, rejection, `/ingest`.

use std::path::PathBuf;

use entities::{case, case_key, quarantine, source_record, Source};
use gateway::auth::Role;
use reqwest::header::AUTHORIZATION;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/samples")
}

async fn row_counts(app: &TestApp) -> (u64, u64, u64, u64) {
    (
        case::Entity::find().count(&app.db).await.unwrap(),
        source_record::Entity::find().count(&app.db).await.unwrap(),
        quarantine::Entity::find().count(&app.db).await.unwrap(),
        case_key::Entity::find().count(&app.db).await.unwrap(),
    )
}

async fn samples_load_with_the_expected_counts_and_again_change_nothing(app: TestApp) {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(samples().join("expected_counts.json")).unwrap()).unwrap();
    let reports = tests::load_samples(&app, Source::ALL).await;
    assert_eq!(reports.len(), expected["files"].as_object().unwrap().len());
    for (file, report) in &reports {
        let want = &expected["files"][file];
        let got = serde_json::to_value(report).unwrap();
        for field in [
            "read",
            "inserted",
            "updated",
            "unchanged",
            "deleted",
            "quarantined",
            "quarantine",
        ] {
            assert_eq!(got[field], want[field], "{file}: {field}");
        }
        assert_eq!(got["rejected"], Value::Null, "{file}");
        assert_eq!(
            report.read,
            report.inserted + report.updated + report.unchanged + report.deleted + report.quarantined
        );
    }
    for (source, live) in expected["live_after_all_files"].as_object().unwrap() {
        let n = case::Entity::find()
            .filter(case::Column::Source.eq(source.as_str()))
            .filter(case::Column::Deleted.eq(false))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(n, live.as_u64().unwrap(), "live {source}");
    }
    let before = row_counts(&app).await;
    for (file, report) in tests::load_samples(&app, Source::ALL).await {
        assert_eq!(
            (report.inserted, report.updated, report.deleted),
            (0, 0, 0),
            "{file}: second load"
        );
        assert_eq!(report.unchanged + report.quarantined, report.read, "{file}");
    }
    assert_eq!(row_counts(&app).await, before, "a second load stores nothing new");
}

async fn identifiers_in_free_text_link_records_across_sources(app: TestApp) {
    tests::load_samples(&app, Source::ALL).await;
    let token = app.token(Role::Admin, &[]);
    let data = app
        .data(&token, "{ cases(filter: {identifier: \"330127199606155713\"}, first: 50) { edges { node { source sourceKey } } } }", json!({}))
        .await;
    let sources: Vec<&str> = data["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["source"].as_str().unwrap())
        .collect();
    for source in ["ENFORCEMENT", "PROCURATORATE", "SOCIAL"] {
        assert!(sources.contains(&source), "{sources:?}");
    }
    let data = app
        .data(&token, r#"{ caseBySourceKey(source: DISCIPLINE, sourceKey: "磐纪线〔2021〕78号") { version caseNumbers parties { role party { idNumber } } } }"#, json!({}))
        .await;
    let case = &data["caseBySourceKey"];
    assert_eq!(
        case["version"], 3,
        "202301 carries version 3; the version 2 of 202302 is older"
    );
    assert_eq!(case["parties"][0]["party"]["idNumber"], "33072719710209464X");
    assert!(
        case["caseNumbers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "磐检行监〔2021〕29号"),
        "{case}"
    );
}

async fn the_ingest_endpoint_needs_the_role_and_rejects_whole_files(app: TestApp) {
    let path = &tests::sample_files(Source::Social)[0];
    let body = std::fs::read(path).unwrap();
    let post = |role: Role, source: &str, body: Vec<u8>| {
        let token = app.token(role, &["33"]);
        app.client
            .post(app.url(&format!("/ingest/{source}")))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header("x-file-name", "upload.csv")
            .body(body)
            .send()
    };
    let r = post(Role::Plc, "social", body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = post(Role::Ingestor, "nowhere", body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = post(Role::Ingestor, "social", body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        (
            report["file"].as_str(),
            report["read"].as_u64(),
            report["inserted"].as_u64()
        ),
        (Some("upload.csv"), Some(83), Some(82))
    );
    assert_eq!(report["rejected"], Value::Null);

    let before = row_counts(&app).await;
    let utf8_discipline = "线索编号,版本\r\n余纪线〔2022〕1号,1\r\n".as_bytes().to_vec();
    let r = post(Role::Admin, "discipline", utf8_discipline).await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let report: Value = r.json().await.unwrap();
    assert!(report["rejected"].as_str().unwrap().contains("UTF-8"), "{report}");
    let broken_xml = b"<?xml version=\"1.0\"?>\n<JDSXPL><JDSX><SXBH>RDJD-9</SXBH></JDSX>\n<JDSX>".to_vec();
    let r = post(Role::Admin, "congress", broken_xml).await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(row_counts(&app).await, before, "a rejected file stores nothing");
}

/// Every ORG_NAME key, as (source, source key, name).
async fn org_name_keys(app: &TestApp) -> Vec<(String, String, String)> {
    use sea_orm::{JoinType, QuerySelect};
    let mut rows: Vec<(String, String, String)> = case_key::Entity::find()
        .select_only()
        .column(case::Column::Source)
        .column(case::Column::SourceKey)
        .column(case_key::Column::Value)
        .join(
            JoinType::InnerJoin,
            case_key::Entity::belongs_to(case::Entity)
                .from(case_key::Column::CaseId)
                .to(case::Column::Id)
                .into(),
        )
        .filter(case_key::Column::Kind.eq("ORG_NAME"))
        .into_tuple()
        .all(&app.db)
        .await
        .unwrap();
    rows.sort();
    rows.dedup();
    rows
}

async fn load_later(app: &TestApp, order: &[Source]) {
    for source in order {
        for path in tests::sample_files(*source) {
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            hub::ingest::ingest_file_with_progress(
                &app.db,
                *source,
                &name,
                &bytes,
                hub::ingest::Link::Later,
                |_, _| {},
            )
            .await
            .unwrap();
        }
    }
}

/// Linking organization names once after a load (as `qianchuan ingest`, `pull` and the demo
/// do) gives exactly the keys of linking after every file; a load interrupted before its
/// final pass is completed by the next file stored.
async fn organization_names_linked_at_the_end_equal_linked_per_file(app: TestApp) {
    let reversed: Vec<Source> = Source::ALL.iter().rev().copied().collect();
    tests::load_samples(&app, &reversed).await;
    let per_file = org_name_keys(&app).await;
    assert!(!per_file.is_empty());

    let later = app.another().await;
    load_later(&later, Source::ALL).await;
    assert!(
        org_name_keys(&later).await.len() < per_file.len(),
        "nothing linked before the final pass"
    );
    hub::org_names::link_pending(&later.db).await.unwrap();
    assert_eq!(org_name_keys(&later).await, per_file);
    hub::org_names::link_pending(&later.db).await.unwrap();
    assert_eq!(org_name_keys(&later).await, per_file, "a second pass adds nothing");

    // Names matched a few at a time (one automaton per ~40 bytes of names, as a world with
    // millions of names is matched within bounded memory): the same keys, in one pass after
    // the load and in passes between its halves (new names against texts scanned before).
    let batched = app.another().await;
    load_later(&batched, Source::ALL).await;
    hub::org_names::link_pending_batched(&batched.db, 40).await.unwrap();
    assert_eq!(org_name_keys(&batched).await, per_file);
    let halves = app.another().await;
    let (first, second) = Source::ALL.split_at(2);
    load_later(&halves, second).await;
    hub::org_names::link_pending_batched(&halves.db, 40).await.unwrap();
    load_later(&halves, first).await;
    hub::org_names::link_pending_batched(&halves.db, 40).await.unwrap();
    assert_eq!(org_name_keys(&halves).await, per_file);

    // Interrupted: the next file stored completes the pass.
    let interrupted = app.another().await;
    load_later(&interrupted, Source::ALL).await;
    let social = tests::sample_files(Source::Social);
    let bytes = std::fs::read(&social[0]).unwrap();
    hub::ingest::ingest_file(&interrupted.db, Source::Social, "again.csv", &bytes)
        .await
        .unwrap();
    assert_eq!(org_name_keys(&interrupted).await, per_file);
}

async fn streamed(app: &TestApp, source: Source, name: &str, bytes: &[u8], segment_bytes: usize) -> Value {
    let report = hub::ingest::ingest_reader(
        &app.db,
        source,
        name,
        std::io::Cursor::new(bytes.to_vec()),
        hub::ingest::Streamed {
            size: bytes.len() as u64,
            segment_bytes,
        },
        hub::ingest::Link::Now,
        |_, _| {},
    )
    .await
    .unwrap();
    serde_json::to_value(&report).unwrap()
}

/// Line-based exports read in small segments (as `qianchuan ingest` reads large files) give
/// exactly the reports, positions and stored rows of reading them whole; a segment that
/// cannot be read as declared rolls the whole file back.
async fn files_read_in_segments_store_exactly_what_whole_files_do(app: TestApp) {
    let whole = app.another().await;
    for source in [
        Source::Enforcement,
        Source::Discipline,
        Source::Congress,
        Source::Social,
    ] {
        for path in tests::sample_files(source) {
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let expected = serde_json::to_value(
                hub::ingest::ingest_file(&whole.db, source, &name, &bytes)
                    .await
                    .unwrap(),
            )
            .unwrap();
            // Segments of ~700 bytes: a few records each, split mid-file many times.
            assert_eq!(streamed(&app, source, &name, &bytes, 700).await, expected, "{name}");
        }
    }
    assert_eq!(row_counts(&app).await, row_counts(&whole).await);
    assert_eq!(org_name_keys(&app).await, org_name_keys(&whole).await);

    // A byte that is not GB18030 near the end of a discipline export: nothing is stored,
    // though the segments before it were read and written.
    let fresh = app.another().await;
    let mut bytes = std::fs::read(&tests::sample_files(Source::Discipline)[0]).unwrap();
    bytes.extend_from_slice(b"\r\nXX-1,\xff\xff\r\n");
    let report = streamed(&fresh, Source::Discipline, "broken.csv", &bytes, 700).await;
    assert!(report["rejected"].is_string(), "{report}");
    assert_eq!(report["read"], 0);
    assert_eq!(row_counts(&fresh).await, (0, 0, 0, 0), "a rejected file stores nothing");

    // The same for a congress export whose last item is not well-formed XML.
    let fresh = app.another().await;
    let bytes = std::fs::read(&tests::sample_files(Source::Congress)[0]).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let cut = text.rfind("</JDSX>").unwrap();
    let broken = format!("{}</JDSXX>{}", &text[..cut], &text[cut + "</JDSX>".len()..]);
    let report = streamed(&fresh, Source::Congress, "broken.xml", broken.as_bytes(), 700).await;
    assert!(
        report["rejected"].as_str().unwrap().contains("malformed XML"),
        "{report}"
    );
    assert_eq!(row_counts(&fresh).await, (0, 0, 0, 0), "a rejected file stores nothing");
}

/// Every sample file posted at once to `POST /ingest/{source}`: each file is its own
/// transaction, they contend for the same parties and names, and all land — the same rows as
/// one file after another (a writer holds the linkage journal's lock only while committing).
async fn concurrent_ingests_all_land(app: TestApp) {
    let sequential = app.another().await;
    tests::load_samples(&sequential, Source::ALL).await;
    let mut posts = Vec::new();
    for source in Source::ALL {
        for path in tests::sample_files(*source) {
            let body = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if *source == Source::Discipline {
                continue; // GB18030: not a UTF-8 body; loaded below as bytes
            }
            posts.push((source.slug().to_string(), name, body));
        }
    }
    let app_ref = &app;
    futures_util::future::join_all(
        posts
            .iter()
            .map(|(source, name, body)| app_ref.ingest(source, name, body.clone())),
    )
    .await;
    tests::load_samples(&app, &[Source::Discipline]).await;
    hub::org_names::link_pending(&sequential.db).await.unwrap();
    let (a, b) = (row_counts(&app).await, row_counts(&sequential).await);
    assert_eq!(a.0, b.0, "cases");
    assert_eq!(a.1, b.1, "source records");
    assert_eq!(a.3, b.3, "keys");
}

/// The bulk insert every writer uses (one array per column on PostgreSQL, one JSON parameter
/// on SQLite) keeps every character of every value, across statements.
async fn bulk_inserts_keep_every_value(app: TestApp) {
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("CREATE TABLE bulk_probe (n bigint NOT NULL, text_value text NOT NULL, m bigint NOT NULL)")
        .await
        .unwrap();
    let texts = [
        "CASE",
        "a,b",
        "say \"hi\" \\ {x} (y)",
        "",
        "NULL",
        " 张三 ",
        "line\nbreak\ttab",
        "{\"json\": [1]}",
    ];
    let rows: Vec<Value> = (0..12_000).map(|n| json!([n, texts[n % texts.len()], n * 3])).collect();
    entities::sql::insert_json(
        &app.db,
        "bulk_probe",
        &[("n", "bigint"), ("text_value", "text"), ("m", "bigint")],
        &rows,
    )
    .await
    .unwrap();
    let stored = tests::int_text_int_rows(&app.db, "SELECT n, text_value, m FROM bulk_probe ORDER BY n").await;
    assert_eq!(stored.len(), 12_000);
    for (n, (audit_id, kind, subject_id)) in stored.iter().enumerate() {
        assert_eq!(
            (*audit_id, kind.as_str(), *subject_id),
            (n as i64, texts[n % texts.len()], n as i64 * 3)
        );
    }
}

/// A streamed file reports its progress after every chunk of records it stores, not once per
/// segment, with an estimate of the file's records that is never below what is done and is
/// exact once the whole file is parsed.
async fn a_streamed_file_reports_progress_per_chunk(app: TestApp) {
    let dir = tests::TempDir::new("qc-progress");
    let summary = adapters::demo::generate(&dir.0, 4_000, 3).unwrap();
    let path = summary
        .files
        .iter()
        .find(|f| {
            f.parent()
                .and_then(|p| p.file_name())
                .is_some_and(|n| n == "enforcement")
        })
        .unwrap();
    let bytes = std::fs::read(path).unwrap();
    for segments in [1, 4] {
        let fresh = app.another().await;
        let mut calls: Vec<(usize, usize)> = Vec::new();
        let report = hub::ingest::ingest_reader(
            &fresh.db,
            Source::Enforcement,
            "progress.ndjson",
            std::io::Cursor::new(bytes.clone()),
            hub::ingest::Streamed {
                size: bytes.len() as u64,
                segment_bytes: bytes.len() / segments + 1,
            },
            hub::ingest::Link::Later,
            |done, expected| calls.push((done, expected)),
        )
        .await
        .unwrap();
        let read = report.read as usize;
        assert!(read > 1_000, "{read}");
        // One call per chunk of 500 records (or fewer at a segment's end).
        assert!(calls.len() >= read / 500, "{segments} segments: {calls:?}");
        assert!(calls.windows(2).all(|w| w[0].0 < w[1].0), "{calls:?}");
        assert!(calls.iter().all(|(done, expected)| expected >= done), "{calls:?}");
        assert_eq!(calls.last().copied(), Some((read, read)), "{segments} segments");
        if segments == 1 {
            // The whole file parsed at once: the estimate is the count from the first call.
            assert!(calls.iter().all(|(_, expected)| *expected == read), "{calls:?}");
        }
    }
}

on_both_databases!(
    a_streamed_file_reports_progress_per_chunk,
    bulk_inserts_keep_every_value,
    concurrent_ingests_all_land,
    files_read_in_segments_store_exactly_what_whole_files_do,
    organization_names_linked_at_the_end_equal_linked_per_file,
    samples_load_with_the_expected_counts_and_again_change_nothing,
    identifiers_in_free_text_link_records_across_sources,
    the_ingest_endpoint_needs_the_role_and_rejects_whole_files,
);

/// A load that makes the case tables grow leaves the planner statistics of whole tables — every
/// column the gateway filters, joins and sorts by, not only the ones the load looks rows up by
/// (autovacuum may be off, as it is on this project's machine, and would not fill them in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_leaves_statistics_of_whole_tables_on_postgres() {
    use sea_orm::ConnectionTrait;
    let Some(app) = TestApp::postgres().await else { return };
    let dir = tests::TempDir::new("qc-statistics-world");
    // One enforcement file of about 2,300 new cases: more than the 1,000 that start a refresh.
    hub::demo::load_generated_world(&app.db, &dir.0, 6_000, 5)
        .await
        .unwrap();
    let wanted = [
        ("cases", "region_code"),
        ("cases", "opened_on"),
        ("case_parties", "party_id"),
        ("case_keys", "value"),
        ("parties", "kind"),
    ];
    for (table, column) in wanted {
        let sql = format!(
            "SELECT count(*) AS n FROM pg_stats WHERE schemaname = current_schema() \
             AND tablename = '{table}' AND attname = '{column}'"
        );
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.try_get::<i64>("", "n").unwrap(),
            1,
            "statistics of {table}.{column}"
        );
    }
}

//! The in-memory linkage index walks exactly what SQL walks, for every role, and stays
//! current whoever writes; the scope rule it applies in memory is the rule SQL applies.

use entities::{case, Source};
use gateway::auth::{Role, Viewer};
use hub::link_index::LinkIndex;
use hub::linkage::{walk, Chain, WalkParams};
use hub::policy::{CaseVisibility, Scope};
use hub::store::ScopedStore;
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use tests::{on_both_databases, TestApp};

pub(crate) fn viewer(role: Role, regions: &[&str]) -> Viewer {
    Viewer {
        sub: "t".into(),
        role,
        regions: regions.iter().map(|r| r.to_string()).collect(),
        unit: None,
        own_id: None,
    }
}

/// Roles and regions that see different parts of a world.
pub(crate) fn viewers() -> Vec<Viewer> {
    vec![
        viewer(Role::Admin, &[]),
        viewer(Role::Discipline, &["33"]),
        viewer(Role::Plc, &["3301"]),
        viewer(Role::Procurator, &["330110", "3302"]),
        viewer(Role::Congress, &["33"]),
    ]
}

fn same_chain(sql: &Chain, memory: &Chain, what: &str) {
    assert_eq!(sql.nodes, memory.nodes, "nodes of {what}");
    assert_eq!(sql.links, memory.links, "links of {what}");
    assert_eq!(sql.hubs, memory.hubs, "hubs of {what}");
    assert_eq!(sql.truncated, memory.truncated, "truncated of {what}");
}

/// Walks from every stored case for every viewer, with the default parameters and with
/// name keys, a low hub threshold and a small node budget, in SQL and on `index`.
async fn compare_every_chain(app: &TestApp, index: &LinkIndex) -> usize {
    let cases = case::Entity::find().all(&app.db).await.unwrap();
    let params = [
        WalkParams::new(3, 0.5, 200, 50).unwrap(),
        WalkParams::new(3, 0.2, 12, 4).unwrap(),
    ];
    let mut non_trivial = 0;
    for v in viewers() {
        let scope = Scope::for_viewer(&v);
        let store = ScopedStore::new(app.db.clone(), scope.clone());
        for c in &cases {
            for p in params {
                let sql = walk(&store, c.id, p).await.unwrap();
                let memory = walk(&index.view(&scope), c.id, p).await.unwrap();
                same_chain(&sql, &memory, &format!("case {} for {:?} with {p:?}", c.id, v.role));
                if sql.nodes.len() > 1 {
                    non_trivial += 1;
                }
            }
        }
    }
    non_trivial
}

async fn the_index_walks_exactly_what_sql_walks(app: TestApp) {
    let dir = tests::TempDir::new("qc-index-world");
    hub::demo::load_generated_world(&app.db, &dir.0, 300, 5).await.unwrap();
    let index = LinkIndex::built(app.db.clone(), 64 << 20).await.unwrap();
    let figures = index.figures();
    assert!(figures.cases > 50 && figures.keys > 20, "{figures:?}");
    let non_trivial = compare_every_chain(&app, &index).await;
    assert!(non_trivial > 200, "only {non_trivial} chains with more than the root");
}

/// Built on part of the samples, then every other writer's change — new files, organization
/// names linked into texts stored before, tombstones, updates — reaches it through the journal.
async fn the_index_follows_changes_written_after_it_was_built(app: TestApp) {
    tests::load_samples(&app, &[Source::Social, Source::Congress]).await;
    let index = LinkIndex::built(app.db.clone(), 64 << 20).await.unwrap();
    let before = index.figures();
    tests::load_samples(&app, &[Source::Enforcement, Source::Discipline, Source::Procuratorate]).await;
    assert!(index.current().await.unwrap(), "a small gap is caught up at once");
    let after = index.figures();
    assert!(
        after.keys > before.keys && after.applied > before.applied,
        "{before:?} → {after:?}"
    );
    assert!(compare_every_chain(&app, &index).await > 100);

    // A visibility change alone (a case moved to another region, another deleted).
    let some: Vec<case::Model> = case::Entity::find()
        .filter(sea_orm::ColumnTrait::eq(&case::Column::Deleted, false))
        .all(&app.db)
        .await
        .unwrap();
    let (moved, gone) = (some[0].id, some[1].id);
    let mut m: case::ActiveModel = some[0].clone().into();
    m.region_code = Set(Some("110105".into()));
    m.update(&app.db).await.unwrap();
    let mut g: case::ActiveModel = some[1].clone().into();
    g.deleted = Set(true);
    g.update(&app.db).await.unwrap();
    entities::linkage_journal::record(&app.db, &[moved, gone])
        .await
        .unwrap();
    assert!(index.current().await.unwrap());
    compare_every_chain(&app, &index).await;
}

/// A journal pruned past what an index applied (a gateway left far behind) makes the index
/// read everything again — chains are walked in SQL meanwhile — and then it is exact again.
async fn an_index_behind_a_pruned_journal_rebuilds(app: TestApp) {
    tests::load_samples(&app, &[Source::Social]).await;
    let index = LinkIndex::built(app.db.clone(), 64 << 20).await.unwrap();
    tests::load_samples(&app, &[Source::Enforcement, Source::Congress]).await;
    assert!(entities::linkage_journal::prune(&app.db, 0).await.unwrap() > 0);
    assert!(!index.current().await.unwrap(), "no catching up past the mark");
    for _ in 0..400 {
        if index.usable() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(index.usable(), "rebuilt");
    assert!(compare_every_chain(&app, &index).await > 100);
    // An index built after the pruning never meets the mark.
    let fresh = LinkIndex::built(app.db.clone(), 64 << 20).await.unwrap();
    assert!(fresh.current().await.unwrap());
    assert_eq!(
        entities::linkage_journal::prune(&app.db, 0).await.unwrap(),
        0,
        "only the mark is left"
    );
}

/// The gateway answers chains from its index once built, and sees a case written by
/// another process (straight into the database) in the very next request.
async fn a_chain_request_sees_what_another_writer_just_stored(app: TestApp) {
    tests::load_samples(&app, &[Source::Social]).await;
    app.wait_link_index_ready().await;
    let token = app.token(Role::Admin, &[]);
    // A live case with an exact key.
    let mut found = None;
    for key in entities::case_key::Entity::find()
        .filter(sea_orm::ColumnTrait::ne(
            &entities::case_key::Column::Kind,
            "PERSON_NAME",
        ))
        .all(&app.db)
        .await
        .unwrap()
    {
        let c = case::Entity::find_by_id(key.case_id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if !c.deleted {
            found = Some((c, key));
            break;
        }
    }
    let (any, key) = found.expect("a live case with an exact key");
    let query = "query($id: ID!) { caseChain(caseId: $id) { nodes { case { sourceKey } } } }";
    let nodes = |d: serde_json::Value| d["caseChain"]["nodes"].as_array().unwrap().len();
    let alone = nodes(app.data(&token, query, json!({"id": format!("Case:{}", any.id)})).await);
    // Another writer ties a new case to it by that key.
    let s = hub::demo::Seeder::new(&app.db);
    let new = s
        .case(hub::demo::NewCase::new(
            Source::Enforcement,
            "NEW-1",
            "新案",
            Some("330110"),
        ))
        .await
        .unwrap();
    s.key(new, key.kind, &key.value).await.unwrap();
    let data = app.data(&token, query, json!({"id": format!("Case:{}", any.id)})).await;
    assert_eq!(nodes(data.clone()), alone + 1, "{data}");
    assert!(data.to_string().contains("NEW-1"));
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["linkIndex"]["state"], "ready", "{ready}");
    // The request itself brought the index up to the other writer's journal rows.
    let last = entities::linkage_journal::last_seq(&app.db).await.unwrap();
    assert_eq!(ready["linkIndex"]["journal"], last, "{ready}");
}

/// `Scope::admits` (in memory) and `Scope::case_condition` (SQL) agree on every combination
/// of source, transfer, deletion and region, for every role.
async fn the_scope_rule_in_memory_is_the_rule_in_sql(app: TestApp) {
    let mut stored = Vec::new();
    let regions = [None, Some("330110"), Some("330205"), Some("110105"), Some("33")];
    let mut n = 0;
    for source in Source::ALL {
        for transferred in [false, true] {
            for deleted in [false, true] {
                for region in regions {
                    n += 1;
                    let mut c = hub::demo::NewCase::new(*source, &format!("S-{n}"), "t", region);
                    c.transferred = transferred;
                    let id = hub::demo::Seeder::new(&app.db).case(c).await.unwrap();
                    if deleted {
                        let m = case::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
                        let mut m: case::ActiveModel = m.into();
                        m.deleted = Set(true);
                        m.update(&app.db).await.unwrap();
                    }
                    stored.push((id, *source, transferred, deleted, region));
                }
            }
        }
    }
    let roles = [
        Role::Admin,
        Role::Discipline,
        Role::Plc,
        Role::Procurator,
        Role::Congress,
        Role::Analyst,
        Role::Auditor,
        Role::Agency,
    ];
    let region_sets: [&[&str]; 4] = [&["33"], &["3301"], &["330110", "1101"], &[]];
    for role in roles {
        for regions in region_sets {
            let scope = Scope::for_viewer(&viewer(role, regions));
            let in_sql: std::collections::BTreeSet<i64> = case::Entity::find()
                .filter(scope.case_condition())
                .all(&app.db)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect();
            for (id, source, transferred, deleted, region) in &stored {
                let admitted = scope.admits(CaseVisibility {
                    source: *source,
                    transferred: *transferred,
                    deleted: *deleted,
                    region_code: *region,
                });
                assert_eq!(
                    admitted,
                    in_sql.contains(id),
                    "{role:?} {regions:?}: {source:?} transferred={transferred} deleted={deleted} region={region:?}"
                );
            }
        }
    }
}

/// A request's question for the journal's last row is asked on the index's own connection
/// (PostgreSQL); when the server closes it, the next question opens another, and the index
/// keeps following the journal.
async fn the_journal_head_survives_the_loss_of_its_connection(app: TestApp) {
    tests::load_samples(&app, &[Source::Social]).await;
    let index = LinkIndex::built(app.db.clone(), 64 << 20).await.unwrap();
    let now = std::time::Instant::now;
    assert!(index.current_after(now()).await.unwrap());
    if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // Exactly one connection, named for the question, last asked it; terminated.
        let terminated = app
            .terminate_backends(
                hub::link_index::JOURNAL_HEAD_CONNECTION,
                Some(entities::linkage_journal::LAST_SEQ),
            )
            .await;
        assert_eq!(terminated, 1, "the question's own connection");
        // The first question may meet the closed connection; the next is answered anew.
        let _ = index.current_after(now()).await;
        assert!(index.current_after(now()).await.unwrap());
    }
    let before = index.figures();
    tests::load_samples(&app, &[Source::Congress]).await;
    assert!(index.current_after(now()).await.unwrap());
    assert!(index.figures().applied > before.applied);
    compare_every_chain(&app, &index).await;
}

on_both_databases!(
    the_journal_head_survives_the_loss_of_its_connection,
    the_index_walks_exactly_what_sql_walks,
    the_index_follows_changes_written_after_it_was_built,
    an_index_behind_a_pruned_journal_rebuilds,
    a_chain_request_sees_what_another_writer_just_stored,
    the_scope_rule_in_memory_is_the_rule_in_sql,
);

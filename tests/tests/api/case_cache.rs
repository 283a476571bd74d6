//! The case cache answers exactly what SQL answers — a case by id, cases by ids, the parties of
//! cases as the visible records describe them, and what the audit trail notes — for every role,
//! and stays current whoever writes: every read through it brings the index up to the journal
//! first.

use std::collections::HashMap;
use std::sync::Arc;

use super::link_index::{viewer, viewers};
use entities::{case, case_party, party, PartyKind, Source};
use gateway::auth::Role;
use hub::link_index::LinkIndex;
use hub::policy::Scope;
use hub::store::ScopedStore;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use tests::{on_both_databases, TestApp};

type Parties = HashMap<i64, Vec<(case_party::Model, party::Model)>>;

/// Asks every case, alone and in groups, of a store reading SQL and of one reading through the
/// cache, for every viewer, twice (the first round fills the cache, the second is answered
/// from it, also by the cache alone); returns how many participations were compared.
async fn compare_every_case(app: &TestApp, index: &Arc<LinkIndex>) -> usize {
    let ids: Vec<i64> = case::Entity::find()
        .order_by_asc(case::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut compared = 0;
    let mut remembered_groups = 0;
    for v in viewers() {
        let scope = Scope::for_viewer(&v);
        for round in 0..2 {
            let sql = ScopedStore::new(app.db.clone(), scope.clone());
            let memory = ScopedStore::new(app.db.clone(), scope.clone()).with_links(Some(index.clone()));
            let (s, m) = (sql.records().unwrap(), memory.records().unwrap());
            for id in &ids {
                let what = format!("case {id} for {:?}, round {round}", v.role);
                assert_eq!(
                    s.case_by_id(*id).await.unwrap(),
                    m.case_by_id(*id).await.unwrap(),
                    "{what}"
                );
            }
            for group in ids.chunks(7) {
                let what = format!("cases {group:?} for {:?}, round {round}", v.role);
                assert_eq!(
                    s.cases_by_ids(group).await.unwrap(),
                    m.cases_by_ids(group).await.unwrap(),
                    "{what}"
                );
                let (in_sql, in_memory): (Parties, Parties) = (
                    s.parties_of_cases(group).await.unwrap(),
                    m.parties_of_cases(group).await.unwrap(),
                );
                assert_eq!(in_sql, in_memory, "parties of {what}");
                // What the cache keeps of them answers alone, the same (a party with very many
                // mentions is not kept, and the cases it takes part in are read).
                if let Some(remembered) = m.remembered_parties_of_cases(group).await {
                    assert_eq!(remembered, in_sql, "remembered parties of {what}");
                    remembered_groups += usize::from(round == 1);
                }
                compared += in_sql.values().map(Vec::len).sum::<usize>();
            }
            let (a, b) = (sql.trail().take(), memory.trail().take());
            assert_eq!((a.cases, a.parties), (b.cases, b.parties), "the trails of {:?}", v.role);
        }
    }
    assert!(remembered_groups > 0, "the cache alone answered no group");
    compared
}

async fn the_cache_answers_exactly_what_sql_answers(app: TestApp) {
    let dir = tests::TempDir::new("qc-cache-world");
    hub::demo::load_generated_world(&app.db, &dir.0, 300, 5).await.unwrap();
    let index = LinkIndex::built(app.db.clone(), 64 << 20).await.unwrap();
    assert!(compare_every_case(&app, &index).await > 500);
    let figures = index.cache().figures();
    assert!(
        figures.hits > 0 && figures.cases > 0 && figures.parties > 0,
        "{figures:?}"
    );
    // A budget far too small for the world: entries come and go, answers stay exact.
    let small = LinkIndex::built(app.db.clone(), 64 << 10).await.unwrap();
    compare_every_case(&app, &small).await;
    let figures = small.cache().figures();
    assert!(figures.bytes <= 64 << 10, "{figures:?}");
}

/// Every writer's change reaches the cache through the journal, with no call but the reads:
/// new files, a tombstone, a case moved to another region, a mention giving a party a new
/// phone (the party as other cases describe it changes), a party newly mentioned by a case.
async fn the_cache_follows_every_writer(app: TestApp) {
    tests::load_samples(&app, &[Source::Social, Source::Congress]).await;
    let index = LinkIndex::built(app.db.clone(), 64 << 20).await.unwrap();
    compare_every_case(&app, &index).await;
    tests::load_samples(&app, &[Source::Enforcement, Source::Discipline, Source::Procuratorate]).await;
    compare_every_case(&app, &index).await;

    let live: Vec<case::Model> = case::Entity::find()
        .filter(case::Column::Deleted.eq(false))
        .order_by_asc(case::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let (moved, gone) = (live[0].id, live[1].id);
    let mut m: case::ActiveModel = live[0].clone().into();
    m.region_code = Set(Some("110105".into()));
    m.update(&app.db).await.unwrap();
    let mut g: case::ActiveModel = live[1].clone().into();
    g.deleted = Set(true);
    g.update(&app.db).await.unwrap();
    entities::linkage_journal::record(&app.db, &[moved, gone])
        .await
        .unwrap();
    compare_every_case(&app, &index).await;

    // A party mentioned by two cases: one of its mentions gains a phone.
    let mentions = case_party::Entity::find()
        .order_by_asc(case_party::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let mut by_party: HashMap<i64, Vec<&case_party::Model>> = HashMap::new();
    for m in &mentions {
        by_party.entry(m.party_id).or_default().push(m);
    }
    let shared = by_party
        .values()
        .find(|ms| {
            ms.len() >= 2
                && ms
                    .iter()
                    .map(|m| m.case_id)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
                    >= 2
        })
        .expect("a party mentioned by two cases");
    let mut one: case_party::ActiveModel = shared[0].clone().into();
    one.phones = Set(Some(json!(["13900000001"])));
    one.update(&app.db).await.unwrap();
    entities::linkage_journal::record(&app.db, &[shared[0].case_id])
        .await
        .unwrap();
    compare_every_case(&app, &index).await;
    let other =
        ScopedStore::new(app.db.clone(), Scope::for_viewer(&viewer(Role::Admin, &[]))).with_links(Some(index.clone()));
    let parties = other
        .records()
        .unwrap()
        .parties_of_cases(&[shared[1].case_id])
        .await
        .unwrap();
    let described = parties[&shared[1].case_id]
        .iter()
        .find(|(link, _)| link.party_id == shared[0].party_id)
        .map(|(_, p)| p.phones.to_string())
        .unwrap();
    assert!(described.contains("13900000001"), "{described}");

    // A party taking part in a case it had nothing to do with.
    let s = hub::demo::Seeder::new(&app.db);
    let newcomer = s
        .party(PartyKind::Person, "新当事人", None, None, &["13900000002"])
        .await
        .unwrap();
    s.join(live[2].id, newcomer, "证人", "新当事人", 99).await.unwrap();
    s.join(live[3].id, shared[0].party_id, "证人", "再次出现", 98)
        .await
        .unwrap();
    compare_every_case(&app, &index).await;
}

/// Over HTTP: `case(id)` with its parties, asked again after another writer changed the case
/// and one of its parties, shows the change at once.
async fn a_case_request_sees_what_another_writer_just_stored(app: TestApp) {
    app.seed_demo().await;
    app.wait_link_index_ready().await;
    let admin = app.token(Role::Admin, &[]);
    let one = case_party::Entity::find()
        .order_by_asc(case_party::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let query = "query($id: ID!) { case(id: $id) { title parties { role party { id name } } } }";
    let vars = json!({"id": format!("Case:{}", one.case_id)});
    let before = app.data(&admin, query, vars.clone()).await;
    assert_eq!(
        before,
        app.data(&admin, query, vars.clone()).await,
        "answered again the same"
    );
    let c = case::Entity::find_by_id(one.case_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut c: case::ActiveModel = c.into();
    c.title = Set(Some("改过的标题".into()));
    c.update(&app.db).await.unwrap();
    let mut link: case_party::ActiveModel = one.clone().into();
    link.name = Set(Some("改过的名字".into()));
    link.role = Set("改过的角色".into());
    link.update(&app.db).await.unwrap();
    entities::linkage_journal::record(&app.db, &[one.case_id])
        .await
        .unwrap();
    let after = app.data(&admin, query, vars).await;
    assert_eq!(after["case"]["title"], "改过的标题", "{after}");
    let text = after.to_string();
    assert!(text.contains("改过的名字") && text.contains("改过的角色"), "{after}");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("qianchuan_case_cache_lookups_total{kind=\"hit\"}"),
        "{metrics}"
    );
}

/// A response that takes a case from memory and then lists cases from its snapshot is computed
/// again from the snapshot alone, so it stays consistent with itself while another writer keeps
/// changing that case (its version and its region, in and out of the viewer's regions).
async fn a_response_mixing_memory_and_its_snapshot_is_consistent(app: TestApp) {
    app.seed_demo().await;
    app.wait_link_index_ready().await;
    let mut target = None;
    for link in case_party::Entity::find()
        .order_by_asc(case_party::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
    {
        let c = case::Entity::find_by_id(link.case_id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if !c.deleted && c.source == Source::Enforcement {
            target = Some(c);
            break;
        }
    }
    let target = target.expect("a live enforcement case with parties");
    let writer = {
        let (db, target) = (app.db.clone(), target.clone());
        tokio::spawn(async move {
            for version in 2..80 {
                let mut m: case::ActiveModel = target.clone().into();
                m.version = Set(version);
                m.region_code = Set(Some(if version % 2 == 0 { "110105" } else { "330110" }.into()));
                m.update(&db).await.unwrap();
                entities::linkage_journal::record(&db, &[target.id]).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
        })
    };
    let plc = app.token(Role::Plc, &["3301"]);
    // The case and its parties from memory, then each party's cases from the snapshot.
    let query = "query($id: ID!) { case(id: $id) { version parties { party { \
                 cases(first: 100) { edges { node { id version } } } } } } }";
    let id = format!("Case:{}", target.id);
    let mut compared = 0;
    while !writer.is_finished() {
        let data = app.data(&plc, query, json!({"id": id})).await;
        let Some(parties) = data["case"]["parties"].as_array() else {
            continue;
        };
        for party in parties {
            for edge in party["party"]["cases"]["edges"].as_array().unwrap() {
                if edge["node"]["id"] == id.as_str() {
                    assert_eq!(edge["node"]["version"], data["case"]["version"], "{data}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 0);
    let recomputed = app.metric("qianchuan_queries_recomputed_total").await;
    assert!(recomputed > 0, "computed again: {recomputed}");
}

/// The audit entry of a response memory answered (`Memory::Assumed`) is written only if the
/// linkage journal's head, read by the same statement, is no later than what memory had
/// applied; otherwise nothing is written and the caller is told to compute it again. Entries
/// of the same group that assume nothing, or enough, are written.
async fn an_entry_for_memory_behind_the_journal_is_not_written(app: TestApp) {
    use hub::audit::{AuditWriter, Recorded, Trail};
    use sea_orm::PaginatorTrait;
    app.seed_demo().await;
    let some_case = case::Entity::find().one(&app.db).await.unwrap().unwrap().id;
    entities::linkage_journal::record(&app.db, &[some_case]).await.unwrap();
    let head = entities::linkage_journal::last_seq(&app.db).await.unwrap();
    assert!(head > 0);
    let writer = AuditWriter::start(app.db.clone());
    let admin = viewer(Role::Admin, &[]);
    let before = entities::audit_log::Entity::find().count(&app.db).await.unwrap();
    let record = |assumed: Option<i64>| {
        let (writer, admin) = (writer.clone(), admin.clone());
        async move {
            let trail = Trail::default();
            trail.cases([some_case]);
            writer
                .record(&admin, None, "{ case }", &json!({}), &trail, assumed)
                .await
                .unwrap()
        }
    };
    // Sent together, so that they may share one group.
    let (behind, current, ahead, plain) = tokio::join!(
        record(Some(head - 1)),
        record(Some(head)),
        record(Some(head + 5)),
        record(None)
    );
    assert_eq!(behind, Recorded::Behind { head });
    assert_eq!([current, ahead, plain], [Recorded::Written; 3]);
    let after = entities::audit_log::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(after - before, 3, "the entry behind the journal is not written");
    // Nothing handed out: nothing to write, whatever is assumed.
    let nothing = writer
        .record(&admin, None, "{ case }", &json!({}), &Trail::default(), Some(0))
        .await
        .unwrap();
    assert_eq!(nothing, Recorded::Nothing);
}

on_both_databases!(
    an_entry_for_memory_behind_the_journal_is_not_written,
    a_response_mixing_memory_and_its_snapshot_is_consistent,
    the_cache_answers_exactly_what_sql_answers,
    the_cache_follows_every_writer,
    a_case_request_sees_what_another_writer_just_stored,
);

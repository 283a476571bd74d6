//! The SQL dialect fragments (`hub::sql`), each on SQLite and PostgreSQL, against an
//! independent answer computed in memory.

use entities::{case, case_key, LinkKind, Source};
use hub::sql::{ids_in, keys_condition};
use sea_orm::{EntityTrait, QueryFilter};
use tests::{on_both_databases, TestApp};

async fn fragments_select_exactly_what_they_name(app: TestApp) {
    tests::load_samples(&app, &[Source::Enforcement, Source::Social]).await;
    let backend = app.db.get_database_backend();
    let all = case::Entity::find().all(&app.db).await.unwrap();
    let mut ids: Vec<i64> = all.iter().map(|c| c.id).step_by(3).collect();
    ids.push(-1);
    let found = case::Entity::find()
        .filter(ids_in(backend, r#""cases"."id""#, &ids))
        .all(&app.db)
        .await
        .unwrap();
    let mut got: Vec<i64> = found.iter().map(|c| c.id).collect();
    got.sort_unstable();
    let mut want: Vec<i64> = ids.iter().copied().filter(|id| *id > 0).collect();
    want.sort_unstable();
    assert_eq!(got, want);
    let none = case::Entity::find()
        .filter(ids_in(backend, r#""cases"."id""#, &[]))
        .all(&app.db)
        .await
        .unwrap();
    assert!(none.is_empty());
    // One id is written differently on PostgreSQL (`= $1`, so that its plan is kept).
    for (asked, want) in [(vec![all[0].id], vec![all[0].id]), (vec![-1], vec![])] {
        let found = case::Entity::find()
            .filter(ids_in(backend, r#""cases"."id""#, &asked))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), want);
    }

    let keys = case_key::Entity::find().all(&app.db).await.unwrap();
    let mut asked: Vec<(LinkKind, String)> = keys.iter().step_by(7).map(|k| (k.kind, k.value.clone())).collect();
    asked.push((LinkKind::OrgName, "不存在的\"公司'名\\".into()));
    let rows = case_key::Entity::find()
        .filter(keys_condition(backend, &asked))
        .all(&app.db)
        .await
        .unwrap();
    let mut got: Vec<(LinkKind, String)> = rows.iter().map(|k| (k.kind, k.value.clone())).collect();
    got.sort();
    got.dedup();
    let mut want: Vec<(LinkKind, String)> = keys
        .iter()
        .filter(|k| asked.iter().any(|(kind, v)| *kind == k.kind && v == &k.value))
        .map(|k| (k.kind, k.value.clone()))
        .collect();
    want.sort();
    want.dedup();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

on_both_databases!(fragments_select_exactly_what_they_name);

//! Organization names known from structured party fields, looked for in free text.
//! Run after every file, both ways, so the keys do not depend on ingestion order:
//! the file's new and updated records against every known name, and names that became
//! known in this file against every stored text.

use std::collections::BTreeSet;

use entities::{case, case_key, party, LinkKind, PartyKind};
use sea_orm::sea_query::{ExprTrait, LikeExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::Result;

/// Shorter names (`某店`) match too much text to be evidence.
const MIN_NAME_CHARS: usize = 4;

pub async fn known_org_names<C: ConnectionTrait>(db: &C) -> Result<BTreeSet<String>> {
    let names: Vec<String> = party::Entity::find()
        .select_only()
        .column(party::Column::Name)
        .filter(party::Column::Kind.eq(PartyKind::Organization.as_str()))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    Ok(names
        .into_iter()
        .filter(|n| n.chars().count() >= MIN_NAME_CHARS)
        .collect())
}

async fn add_key<C: ConnectionTrait>(db: &C, case_id: i64, name: &str) -> Result<()> {
    let exists = case_key::Entity::find()
        .filter(case_key::Column::CaseId.eq(case_id))
        .filter(case_key::Column::Kind.eq(LinkKind::OrgName.as_str()))
        .filter(case_key::Column::Value.eq(name))
        .one(db)
        .await?;
    if exists.is_none() {
        case_key::ActiveModel {
            case_id: Set(case_id),
            kind: Set(LinkKind::OrgName.as_str().into()),
            value: Set(name.to_string()),
            score: Set(LinkKind::OrgName.score()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub async fn link_org_names<C: ConnectionTrait>(db: &C, before: &BTreeSet<String>, touched: &[i64]) -> Result<()> {
    let now = known_org_names(db).await?;
    // The file's records against every known name.
    for chunk in touched.chunks(500) {
        let rows: Vec<(i64, Option<String>)> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .column(case::Column::FreeText)
            .filter(case::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (id, text) in rows {
            let Some(text) = text else { continue };
            for name in now.iter().filter(|n| text.contains(n.as_str())) {
                add_key(db, id, name).await?;
            }
        }
    }
    // Names new in this file against every stored text.
    for name in now.difference(before) {
        let pattern = format!(
            "%{}%",
            name.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        let rows: Vec<(i64, Option<String>)> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .column(case::Column::FreeText)
            .filter(sea_orm::sea_query::Expr::col(case::Column::FreeText).like(LikeExpr::new(pattern).escape('\\')))
            .into_tuple()
            .all(db)
            .await?;
        for (id, text) in rows {
            if text.map(|t| t.contains(name.as_str())).unwrap_or(false) {
                add_key(db, id, name).await?;
            }
        }
    }
    Ok(())
}

//! `cases.masked_text`: title and summary with every identifier masked, what a masking role's
//! `text` filter searches (a search over it can never confirm a hidden digit). Filled for the
//! rows already stored.

use entities::case;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    MaskedText,
}

/// Rows filled per transaction.
const BATCH: u64 = 2_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(ColumnDef::new(Cases::MaskedText).text())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, Option<String>, Option<String>)> = case::Entity::find()
                .select_only()
                .column(case::Column::Id)
                .column(case::Column::Title)
                .column(case::Column::Summary)
                .filter(case::Column::Id.gt(after))
                .order_by_asc(case::Column::Id)
                .limit(BATCH)
                .into_tuple()
                .all(db)
                .await?;
            let Some(last) = rows.last().map(|r| r.0) else { break };
            let txn = db.begin().await?;
            for (id, title, summary) in rows {
                case::Entity::update_many()
                    .col_expr(
                        case::Column::MaskedText,
                        Expr::value(case::masked_text(title.as_deref(), summary.as_deref())),
                    )
                    .filter(case::Column::Id.eq(id))
                    .exec(&txn)
                    .await?;
            }
            txn.commit().await?;
            after = last;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::MaskedText)
                    .to_owned(),
            )
            .await
    }
}

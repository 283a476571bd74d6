//! `linkage_journal`: one row per case whose keys or visibility (source, region, transferred,
//! deleted) changed, in commit order, so that each gateway's in-memory linkage index can
//! catch up with every writer — other gateways, `qianchuan ingest`, anything — by reading
//! what came after the last row it applied.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LinkageJournal {
    Table,
    Seq,
    CaseId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LinkageJournal::Table)
                    .col(
                        ColumnDef::new(LinkageJournal::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LinkageJournal::CaseId).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LinkageJournal::Table).to_owned())
            .await
    }
}

//! What is left to match between free texts and organization names, so that linking names in
//! free text can be deferred to the end of a load and resumed after a crash:
//! `org_scan_queue` (texts stored or changed since the last pass) and `org_names_scanned`
//! (names already matched against every text scanned before them).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrgScanQueue {
    Table,
    CaseId,
}

#[derive(DeriveIden)]
enum OrgNamesScanned {
    Table,
    Name,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgScanQueue::Table)
                    .col(
                        ColumnDef::new(OrgScanQueue::CaseId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrgNamesScanned::Table)
                    .col(ColumnDef::new(OrgNamesScanned::Name).string().not_null().primary_key())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrgNamesScanned::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OrgScanQueue::Table).to_owned())
            .await
    }
}

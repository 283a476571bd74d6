//! Which texts and which organization names have been matched against each other, so that
//! linking names in free text can be deferred to the end of a load and resumed after a crash:
//! `cases.org_scanned` (this text was matched against every name known then) and
//! `org_names_scanned` (this name was matched against every text scanned before it).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    OrgScanned,
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
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(ColumnDef::new(Cases::OrgScanned).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        // Only the few texts not yet scanned are looked up by it (same syntax on both databases).
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX ix_cases_org_unscanned ON cases (id) WHERE org_scanned = false")
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
            .get_connection()
            .execute_unprepared("DROP INDEX ix_cases_org_unscanned")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::OrgScanned)
                    .to_owned(),
            )
            .await
    }
}

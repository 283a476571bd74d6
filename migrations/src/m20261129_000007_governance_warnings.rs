//! The warnings the governance index raised, one row per town, month and step, so that each
//! opens its supervision task once however many gateways notice it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GovernanceWarnings {
    Table,
    Id,
    RegionCode,
    Town,
    Month,
    Action,
    Color,
    Index,
    TaskId,
    RaisedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GovernanceWarnings::Table)
                    .col(
                        ColumnDef::new(GovernanceWarnings::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(GovernanceWarnings::RegionCode).string_len(6).not_null())
                    .col(ColumnDef::new(GovernanceWarnings::Town).string().not_null())
                    .col(ColumnDef::new(GovernanceWarnings::Month).string_len(7).not_null())
                    .col(ColumnDef::new(GovernanceWarnings::Action).string_len(16).not_null())
                    .col(ColumnDef::new(GovernanceWarnings::Color).string_len(8).not_null())
                    .col(ColumnDef::new(GovernanceWarnings::Index).double().not_null())
                    .col(ColumnDef::new(GovernanceWarnings::TaskId).big_integer())
                    .col(
                        ColumnDef::new(GovernanceWarnings::RaisedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("governance_warnings_once")
                    .table(GovernanceWarnings::Table)
                    .col(GovernanceWarnings::RegionCode)
                    .col(GovernanceWarnings::Town)
                    .col(GovernanceWarnings::Month)
                    .col(GovernanceWarnings::Action)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GovernanceWarnings::Table).to_owned())
            .await
    }
}

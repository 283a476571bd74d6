//! Where each pulled source stands: the `updatedSince` watermark of the next pull.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PullState {
    Table,
    Source,
    Watermark,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PullState::Table)
                    .col(ColumnDef::new(PullState::Source).string().not_null().primary_key())
                    .col(ColumnDef::new(PullState::Watermark).string().not_null())
                    .col(
                        ColumnDef::new(PullState::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PullState::Table).to_owned())
            .await
    }
}

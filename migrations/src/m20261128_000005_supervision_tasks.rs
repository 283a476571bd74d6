//! The hub's own supervision tasks (督办) and every step taken on them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupervisionTasks {
    Table,
    Id,
    CaseId,
    RegionCode,
    Town,
    Department,
    Title,
    Deadline,
    Stage,
    OpenedBy,
    OpenedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TaskEvents {
    Table,
    Id,
    TaskId,
    At,
    Actor,
    Role,
    Action,
    FromStage,
    ToStage,
    Note,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SupervisionTasks::Table)
                    .col(
                        ColumnDef::new(SupervisionTasks::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SupervisionTasks::CaseId).big_integer())
                    .col(ColumnDef::new(SupervisionTasks::RegionCode).string())
                    .col(ColumnDef::new(SupervisionTasks::Town).string())
                    .col(ColumnDef::new(SupervisionTasks::Department).string().not_null())
                    .col(ColumnDef::new(SupervisionTasks::Title).text().not_null())
                    .col(ColumnDef::new(SupervisionTasks::Deadline).date().not_null())
                    .col(ColumnDef::new(SupervisionTasks::Stage).string().not_null())
                    .col(ColumnDef::new(SupervisionTasks::OpenedBy).string().not_null())
                    .col(
                        ColumnDef::new(SupervisionTasks::OpenedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SupervisionTasks::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_tasks_department")
                    .table(SupervisionTasks::Table)
                    .col(SupervisionTasks::Department)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TaskEvents::Table)
                    .col(
                        ColumnDef::new(TaskEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TaskEvents::TaskId).big_integer().not_null())
                    .col(ColumnDef::new(TaskEvents::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(TaskEvents::Actor).string().not_null())
                    .col(ColumnDef::new(TaskEvents::Role).string().not_null())
                    .col(ColumnDef::new(TaskEvents::Action).string().not_null())
                    .col(ColumnDef::new(TaskEvents::FromStage).string())
                    .col(ColumnDef::new(TaskEvents::ToStage).string().not_null())
                    .col(ColumnDef::new(TaskEvents::Note).text())
                    .foreign_key(
                        ForeignKey::create()
                            .from(TaskEvents::Table, TaskEvents::TaskId)
                            .to(SupervisionTasks::Table, SupervisionTasks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_task_events_task")
                    .table(TaskEvents::Table)
                    .col(TaskEvents::TaskId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TaskEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SupervisionTasks::Table).to_owned())
            .await
    }
}

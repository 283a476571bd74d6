//! Which cases and parties each audit entry returned, indexed for
//! "who has looked at this person?".

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditSubjects {
    Table,
    Id,
    AuditId,
    Kind,
    SubjectId,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditSubjects::Table)
                    .col(
                        ColumnDef::new(AuditSubjects::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditSubjects::AuditId).big_integer().not_null())
                    .col(ColumnDef::new(AuditSubjects::Kind).string().not_null())
                    .col(ColumnDef::new(AuditSubjects::SubjectId).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditSubjects::Table, AuditSubjects::AuditId)
                            .to(AuditLog::Table, AuditLog::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_subjects_subject")
                    .table(AuditSubjects::Table)
                    .col(AuditSubjects::Kind)
                    .col(AuditSubjects::SubjectId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditSubjects::Table).to_owned())
            .await
    }
}

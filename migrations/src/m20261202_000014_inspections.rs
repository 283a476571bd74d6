//! `inspections` and `inspection_problems`: 平安督 inspections and what they found.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Inspections {
    Table,
    Id,
    RegionCode,
    Town,
    Point,
    PointType,
    InspectedAt,
    RecordedBy,
    Unit,
    RecordedAt,
    File,
    ContentHash,
    Corrects,
}

#[derive(DeriveIden)]
enum InspectionProblems {
    Table,
    Id,
    InspectionId,
    Seq,
    Category,
    Description,
    Severity,
    TaskId,
    Position,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Inspections::Table)
                    .col(ColumnDef::new(Inspections::Id).string_len(128).not_null().primary_key())
                    .col(ColumnDef::new(Inspections::RegionCode).string_len(6).not_null())
                    .col(ColumnDef::new(Inspections::Town).text().not_null())
                    .col(ColumnDef::new(Inspections::Point).text().not_null())
                    .col(ColumnDef::new(Inspections::PointType).text().not_null())
                    .col(
                        ColumnDef::new(Inspections::InspectedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Inspections::RecordedBy).text().not_null())
                    .col(ColumnDef::new(Inspections::Unit).text())
                    .col(
                        ColumnDef::new(Inspections::RecordedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Inspections::File).text().not_null())
                    .col(ColumnDef::new(Inspections::ContentHash).string_len(64).not_null())
                    .col(ColumnDef::new(Inspections::Corrects).string_len(128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("inspections_place_time")
                    .table(Inspections::Table)
                    .col(Inspections::RegionCode)
                    .col(Inspections::InspectedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InspectionProblems::Table)
                    .col(
                        ColumnDef::new(InspectionProblems::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(InspectionProblems::InspectionId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(InspectionProblems::Seq).integer().not_null())
                    .col(ColumnDef::new(InspectionProblems::Category).text().not_null())
                    .col(ColumnDef::new(InspectionProblems::Description).text().not_null())
                    .col(ColumnDef::new(InspectionProblems::Severity).integer().not_null())
                    .col(ColumnDef::new(InspectionProblems::TaskId).big_integer())
                    .col(ColumnDef::new(InspectionProblems::Position).text())
                    .foreign_key(
                        ForeignKey::create()
                            .from(InspectionProblems::Table, InspectionProblems::InspectionId)
                            .to(Inspections::Table, Inspections::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("inspection_problems_of")
                    .table(InspectionProblems::Table)
                    .col(InspectionProblems::InspectionId)
                    .col(InspectionProblems::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("inspection_problems_task")
                    .table(InspectionProblems::Table)
                    .col(InspectionProblems::TaskId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(InspectionProblems::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Inspections::Table).to_owned())
            .await
    }
}

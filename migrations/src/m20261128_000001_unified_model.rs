//! The unified model: cases, parties, participation, keys, provenance,
//! quarantine, data-quality issues and the audit log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    Source,
    SourceKey,
    Version,
    Title,
    Summary,
    Category,
    Status,
    Stage,
    RegionCode,
    Town,
    Agency,
    OpenedOn,
    ClosedOn,
    DeadlineOn,
    CaseNumbers,
    Transferred,
    Deleted,
    RecordId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Parties {
    Table,
    Id,
    Kind,
    Name,
    IdNumber,
    CreditCode,
    Phones,
    Identity,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CaseParties {
    Table,
    Id,
    CaseId,
    PartyId,
    Role,
    NameAsRecorded,
    Position,
}

#[derive(DeriveIden)]
enum CaseKeys {
    Table,
    Id,
    CaseId,
    Kind,
    Value,
    Score,
}

#[derive(DeriveIden)]
enum SourceRecords {
    Table,
    Id,
    Source,
    SourceKey,
    Version,
    ContentHash,
    File,
    Position,
    Payload,
    IngestedAt,
}

#[derive(DeriveIden)]
enum Quarantine {
    Table,
    Id,
    Source,
    File,
    Position,
    Reason,
    Detail,
    RawText,
    IngestedAt,
}

#[derive(DeriveIden)]
enum DataQualityIssues {
    Table,
    Id,
    Source,
    SourceKey,
    CaseId,
    Field,
    RawValue,
    Issue,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Sub,
    Role,
    Operation,
    QueryHash,
    Variables,
    CaseIds,
    PartyIds,
}

fn id<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .take()
}

fn index<T: IntoIden>(name: &str, table: T, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for c in cols {
        stmt.col(Alias::new(*c));
    }
    stmt.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Cases::Table)
                    .col(id(Cases::Id))
                    .col(ColumnDef::new(Cases::Source).string().not_null())
                    .col(ColumnDef::new(Cases::SourceKey).string().not_null())
                    .col(ColumnDef::new(Cases::Version).integer().not_null())
                    .col(ColumnDef::new(Cases::Title).text())
                    .col(ColumnDef::new(Cases::Summary).text())
                    .col(ColumnDef::new(Cases::Category).string())
                    .col(ColumnDef::new(Cases::Status).string())
                    .col(ColumnDef::new(Cases::Stage).string())
                    .col(ColumnDef::new(Cases::RegionCode).string())
                    .col(ColumnDef::new(Cases::Town).string())
                    .col(ColumnDef::new(Cases::Agency).string())
                    .col(ColumnDef::new(Cases::OpenedOn).date())
                    .col(ColumnDef::new(Cases::ClosedOn).date())
                    .col(ColumnDef::new(Cases::DeadlineOn).date())
                    .col(ColumnDef::new(Cases::CaseNumbers).json().not_null())
                    .col(ColumnDef::new(Cases::Transferred).boolean().not_null().default(false))
                    .col(ColumnDef::new(Cases::Deleted).boolean().not_null().default(false))
                    .col(ColumnDef::new(Cases::RecordId).big_integer())
                    .col(ColumnDef::new(Cases::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_cases_source_key", Cases::Table, &["source", "source_key"])
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(index("ix_cases_region", Cases::Table, &["region_code"]))
            .await?;
        manager
            .create_index(index("ix_cases_opened", Cases::Table, &["opened_on"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Parties::Table)
                    .col(id(Parties::Id))
                    .col(ColumnDef::new(Parties::Kind).string().not_null())
                    .col(ColumnDef::new(Parties::Name).string().not_null())
                    .col(ColumnDef::new(Parties::IdNumber).string())
                    .col(ColumnDef::new(Parties::CreditCode).string())
                    .col(ColumnDef::new(Parties::Phones).json().not_null())
                    .col(ColumnDef::new(Parties::Identity).string().not_null().unique_key())
                    .col(ColumnDef::new(Parties::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseParties::Table)
                    .col(id(CaseParties::Id))
                    .col(ColumnDef::new(CaseParties::CaseId).big_integer().not_null())
                    .col(ColumnDef::new(CaseParties::PartyId).big_integer().not_null())
                    .col(ColumnDef::new(CaseParties::Role).string().not_null())
                    .col(ColumnDef::new(CaseParties::NameAsRecorded).string().not_null())
                    .col(ColumnDef::new(CaseParties::Position).integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(CaseParties::Table, CaseParties::CaseId)
                            .to(Cases::Table, Cases::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CaseParties::Table, CaseParties::PartyId)
                            .to(Parties::Table, Parties::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_case_parties_case", CaseParties::Table, &["case_id"]))
            .await?;
        manager
            .create_index(index(
                "ix_case_parties_party",
                CaseParties::Table,
                &["party_id", "case_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseKeys::Table)
                    .col(id(CaseKeys::Id))
                    .col(ColumnDef::new(CaseKeys::CaseId).big_integer().not_null())
                    .col(ColumnDef::new(CaseKeys::Kind).string().not_null())
                    .col(ColumnDef::new(CaseKeys::Value).string().not_null())
                    .col(ColumnDef::new(CaseKeys::Score).double().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(CaseKeys::Table, CaseKeys::CaseId)
                            .to(Cases::Table, Cases::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_case_keys_value",
                CaseKeys::Table,
                &["value", "kind", "case_id"],
            ))
            .await?;
        manager
            .create_index(index("ix_case_keys_case", CaseKeys::Table, &["case_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SourceRecords::Table)
                    .col(id(SourceRecords::Id))
                    .col(ColumnDef::new(SourceRecords::Source).string().not_null())
                    .col(ColumnDef::new(SourceRecords::SourceKey).string().not_null())
                    .col(ColumnDef::new(SourceRecords::Version).integer().not_null())
                    .col(ColumnDef::new(SourceRecords::ContentHash).string().not_null())
                    .col(ColumnDef::new(SourceRecords::File).string().not_null())
                    .col(ColumnDef::new(SourceRecords::Position).string().not_null())
                    .col(ColumnDef::new(SourceRecords::Payload).text().not_null())
                    .col(
                        ColumnDef::new(SourceRecords::IngestedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_source_records_key",
                SourceRecords::Table,
                &["source", "source_key", "version"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Quarantine::Table)
                    .col(id(Quarantine::Id))
                    .col(ColumnDef::new(Quarantine::Source).string().not_null())
                    .col(ColumnDef::new(Quarantine::File).string().not_null())
                    .col(ColumnDef::new(Quarantine::Position).string().not_null())
                    .col(ColumnDef::new(Quarantine::Reason).string().not_null())
                    .col(ColumnDef::new(Quarantine::Detail).text())
                    .col(ColumnDef::new(Quarantine::RawText).text().not_null())
                    .col(
                        ColumnDef::new(Quarantine::IngestedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DataQualityIssues::Table)
                    .col(id(DataQualityIssues::Id))
                    .col(ColumnDef::new(DataQualityIssues::Source).string().not_null())
                    .col(ColumnDef::new(DataQualityIssues::SourceKey).string().not_null())
                    .col(ColumnDef::new(DataQualityIssues::CaseId).big_integer())
                    .col(ColumnDef::new(DataQualityIssues::Field).string().not_null())
                    .col(ColumnDef::new(DataQualityIssues::RawValue).text().not_null())
                    .col(ColumnDef::new(DataQualityIssues::Issue).string().not_null())
                    .col(
                        ColumnDef::new(DataQualityIssues::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_dq_source_key",
                DataQualityIssues::Table,
                &["source", "source_key"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(id(AuditLog::Id))
                    .col(ColumnDef::new(AuditLog::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(AuditLog::Sub).string().not_null())
                    .col(ColumnDef::new(AuditLog::Role).string().not_null())
                    .col(ColumnDef::new(AuditLog::Operation).string())
                    .col(ColumnDef::new(AuditLog::QueryHash).string().not_null())
                    .col(ColumnDef::new(AuditLog::Variables).json().not_null())
                    .col(ColumnDef::new(AuditLog::CaseIds).json().not_null())
                    .col(ColumnDef::new(AuditLog::PartyIds).json().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_audit_sub_at", AuditLog::Table, &["sub", "at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_log",
            "data_quality_issues",
            "quarantine",
            "source_records",
            "case_keys",
            "case_parties",
            "parties",
            "cases",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! What each record says about its party (`case_parties`: normalized name, ID number, credit
//! code, phones), so that a viewer is shown a party as the records it can see describe it —
//! never a phone or a name that only a hidden record carries. Rows already stored keep the
//! name as recorded and the party's own identity key (which every record of it carries);
//! their phones are known again once their records are loaded anew.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaseParties {
    Table,
    Name,
    IdNumber,
    CreditCode,
    Phones,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(CaseParties::Name).text().to_owned(),
            ColumnDef::new(CaseParties::IdNumber).string_len(18).to_owned(),
            ColumnDef::new(CaseParties::CreditCode).string_len(18).to_owned(),
            ColumnDef::new(CaseParties::Phones).json().to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(CaseParties::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE case_parties SET name = name_as_recorded, \
             id_number = (SELECT p.id_number FROM parties p WHERE p.id = case_parties.party_id \
                          AND p.identity LIKE 'PERSON_ID:%'), \
             credit_code = (SELECT p.credit_code FROM parties p WHERE p.id = case_parties.party_id \
                          AND p.identity LIKE 'ORG_USCC:%')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            CaseParties::Name,
            CaseParties::IdNumber,
            CaseParties::CreditCode,
            CaseParties::Phones,
        ] {
            manager
                .alter_table(Table::alter().table(CaseParties::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

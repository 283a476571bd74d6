//! Demo data. `load_generated_world` writes a synthetic world as export files and
//! ingests them through the adapters (what `serve --demo` shows); `seed_demo` writes a
//! small hand-made world straight through the entities, whose one chain spans all five
//! systems (the tests use it).

use crate::ingest::Link;
use chrono::{NaiveDate, Utc};
use entities::ids::{CreditCode, IdNumber};
use entities::{case, case_key, case_party, party, LinkKind, PartyKind, Source};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set, TransactionTrait};
use serde_json::json;

/// A case to seed.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub source: Source,
    pub source_key: String,
    pub title: String,
    pub summary: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub stage: Option<entities::LoopStage>,
    pub region_code: Option<String>,
    pub town: Option<String>,
    pub agency: Option<String>,
    pub opened_on: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub deadline_on: Option<NaiveDate>,
    pub satisfaction: Option<entities::Satisfaction>,
    pub case_numbers: Vec<String>,
    pub transferred: bool,
}

impl NewCase {
    pub fn new(source: Source, key: &str, title: &str, region: Option<&str>) -> Self {
        NewCase {
            source,
            source_key: key.into(),
            title: title.into(),
            summary: None,
            category: None,
            status: None,
            stage: None,
            region_code: region.map(str::to_string),
            town: None,
            agency: None,
            opened_on: None,
            closed_on: None,
            deadline_on: None,
            satisfaction: None,
            case_numbers: Vec::new(),
            transferred: false,
        }
    }
}

/// Writes cases, parties, participations and keys.
pub struct Seeder<'a, C: ConnectionTrait> {
    db: &'a C,
}

impl<'a, C: ConnectionTrait + TransactionTrait> Seeder<'a, C> {
    pub fn new(db: &'a C) -> Self {
        Seeder { db }
    }

    pub async fn case(&self, c: NewCase) -> Result<i64, DbErr> {
        let model = case::ActiveModel {
            masked_text: Set(case::masked_text(Some(&c.title), c.summary.as_deref())),
            source: Set(c.source),
            source_key: Set(c.source_key),
            version: Set(1),
            title: Set(Some(c.title)),
            summary: Set(c.summary.clone()),
            category: Set(c.category),
            status: Set(c.status),
            stage: Set(c.stage),
            region_code: Set(c.region_code),
            town: Set(c.town),
            agency: Set(c.agency),
            opened_on: Set(c.opened_on),
            closed_on: Set(c.closed_on),
            deadline_on: Set(c.deadline_on),
            satisfaction: Set(c.satisfaction),
            case_numbers: Set(json!(c.case_numbers)),
            transferred: Set(c.transferred),
            deleted: Set(false),
            record_id: Set(None),
            updated_at: Set(Utc::now()),
            free_text: Set(c.summary),
            ..Default::default()
        }
        .insert(self.db)
        .await?;
        entities::linkage_journal::record(self.db, &[model.id]).await?;
        for number in &c.case_numbers {
            self.key(model.id, LinkKind::CaseNo, number).await?;
        }
        Ok(model.id)
    }

    pub async fn party(
        &self,
        kind: PartyKind,
        name: &str,
        id_number: Option<&str>,
        credit_code: Option<&str>,
        phones: &[&str],
    ) -> Result<i64, DbErr> {
        let identity = match (id_number, credit_code) {
            (Some(id), _) => format!("PERSON_ID:{id}"),
            (_, Some(code)) => format!("ORG_USCC:{code}"),
            _ => format!("NAME:{name}:{}", Utc::now().timestamp_nanos_opt().unwrap_or_default()),
        };
        let model = party::ActiveModel {
            kind: Set(kind),
            name: Set(name.into()),
            id_number: Set(id_number.and_then(|v| IdNumber::parse(v).ok())),
            credit_code: Set(credit_code.and_then(|v| CreditCode::parse(v).ok())),
            phones: Set(json!(phones)),
            identity: Set(identity),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(self.db)
        .await?;
        Ok(model.id)
    }

    /// Adds a party to a case with its role, and the party's exact keys to the case.
    pub async fn join(
        &self,
        case_id: i64,
        party_id: i64,
        role: &str,
        name_as_recorded: &str,
        position: i32,
    ) -> Result<(), DbErr> {
        // The demo's records say all that is known of their parties.
        let party = party::Entity::find_by_id(party_id)
            .one(self.db)
            .await?
            .ok_or(DbErr::RecordNotFound(format!("party {party_id}")))?;
        case_party::ActiveModel {
            case_id: Set(case_id),
            party_id: Set(party_id),
            role: Set(role.into()),
            name_as_recorded: Set(name_as_recorded.into()),
            position: Set(position),
            name: Set(Some(party.name)),
            id_number: Set(party.id_number),
            credit_code: Set(party.credit_code),
            phones: Set(Some(party.phones)),
            ..Default::default()
        }
        .insert(self.db)
        .await?;
        entities::linkage_journal::record(self.db, &[case_id]).await
    }

    pub async fn key(&self, case_id: i64, kind: LinkKind, value: &str) -> Result<(), DbErr> {
        case_key::ActiveModel {
            case_id: Set(case_id),
            kind: Set(kind),
            value: Set(value.into()),
            score: Set(kind.score()),
            ..Default::default()
        }
        .insert(self.db)
        .await?;
        entities::linkage_journal::record(self.db, &[case_id]).await
    }
}

/// Seeds the demo world; returns how many cases it wrote.
pub async fn seed_demo<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<usize, DbErr> {
    let s = Seeder::new(db);
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    let li_si_id = "11010519491231002X";
    let company_code = "91350100M000100Y43";
    let police_no = "A3301105400002022090001";
    let court_no = "(2022)浙0110民初1234号";

    let li_si = s
        .party(PartyKind::Person, "李四", Some(li_si_id), None, &["13805711234"])
        .await?;
    let company = s
        .party(
            PartyKind::Organization,
            "杭州某某科技有限公司",
            None,
            Some(company_code),
            &[],
        )
        .await?;
    let officer = s.party(PartyKind::Person, "陈建国", None, None, &[]).await?;

    let mut e = NewCase::new(
        Source::Enforcement,
        "ZFJD-330110-2022-000123",
        "某科技公司涉嫌诈骗案",
        Some("330110"),
    );
    e.summary = Some(format!("群众多次报案未立案，关联{court_no}"));
    e.category = Some("应立未立".into());
    e.status = Some("督办".into());
    e.stage = Some(entities::LoopStage::Notified);
    e.town = Some("仓前街道".into());
    e.agency = Some("杭州市公安局余杭区分局".into());
    e.opened_on = date(2022, 9, 1);
    e.case_numbers = vec![police_no.into(), court_no.into()];
    let enforcement = s.case(e).await?;
    s.join(enforcement, company, "单位", "杭州某某科技有限公司", 0).await?;
    s.join(enforcement, li_si, "犯罪嫌疑人", "李四", 1).await?;
    s.join(enforcement, officer, "handling official", "陈建国", 2).await?;
    s.key(enforcement, LinkKind::PersonId, li_si_id).await?;
    s.key(enforcement, LinkKind::OrgUscc, company_code).await?;
    s.key(enforcement, LinkKind::Phone, "13805711234").await?;
    s.key(enforcement, LinkKind::Badge, "330110540000:012345").await?;

    let mut p = NewCase::new(
        Source::Procuratorate,
        "PROC-SUP-2022-000812",
        "督促公安机关立案监督",
        Some("330110"),
    );
    p.summary = Some(format!("针对{police_no}号案件应立未立情形开展立案监督"));
    p.category = Some("CASE_FILING_SUPERVISION".into());
    p.status = Some("ISSUED".into());
    p.agency = Some("杭州市公安局余杭区分局".into());
    p.opened_on = date(2022, 9, 27);
    p.case_numbers = vec!["杭余检刑监〔2022〕12号".into(), police_no.into()];
    let procuratorate = s.case(p).await?;
    s.join(procuratorate, officer, "OFFICIAL", "陈建国", 0).await?;

    let mut c = NewCase::new(
        Source::Congress,
        "RDJD-330100-2022-0031",
        "关于某执行案件久拖未结的信访",
        Some("330110"),
    );
    c.summary = Some(format!(
        "信访人反映{court_no}案件长期未执行，涉及杭州某某科技有限公司。"
    ));
    c.category = Some("涉法涉诉信访".into());
    c.status = Some("办理中".into());
    c.agency = Some("杭州市余杭区人民法院".into());
    c.opened_on = date(2022, 9, 30);
    c.case_numbers = vec![court_no.into()];
    let congress = s.case(c).await?;
    s.join(congress, li_si, "申请人", "李四", 0).await?;
    s.key(congress, LinkKind::PersonId, li_si_id).await?;

    let mut d = NewCase::new(
        Source::Discipline,
        "余纪线〔2022〕456号",
        "陈建国涉嫌充当保护伞",
        Some("330110"),
    );
    d.summary = Some(format!("反映其在{police_no}号案件中应立未立"));
    d.category = Some("充当保护伞".into());
    d.status = Some("初步核实".into());
    d.agency = Some("杭州市公安局余杭区分局".into());
    d.opened_on = date(2022, 10, 8);
    d.case_numbers = vec![police_no.into()];
    let discipline = s.case(d).await?;
    s.join(discipline, officer, "被反映人", "陈建国", 0).await?;

    let mut so = NewCase::new(Source::Social, "GD20220901000123", "反映某科技公司诈骗", Some("330110"));
    so.summary = Some("来电人称被杭州某某科技有限公司骗取钱款，联系电话13805711234，报案后一直未立案。".into());
    so.category = Some("举报".into());
    so.status = Some("已办结".into());
    so.town = Some("仓前街道".into());
    so.opened_on = date(2022, 8, 20);
    let social = s.case(so).await?;
    s.join(social, company, "被反映对象", "杭州某某科技有限公司", 0).await?;
    s.key(social, LinkKind::Phone, "13805711234").await?;
    s.key(social, LinkKind::OrgUscc, company_code).await?;

    let mut other = NewCase::new(Source::Social, "GD20221011000456", "噪音扰民", Some("330784"));
    other.category = Some("投诉".into());
    other.status = Some("已受理".into());
    other.town = Some("东城街道".into());
    other.opened_on = date(2022, 10, 11);
    s.case(other).await?;
    Ok(6)
}

/// Generates a world of about `scale` records as export files under `dir` and ingests every
/// file, source by source in name order. Returns the ingest reports.
/// Whether the database holds no case yet (a demo world is then loaded into it).
pub async fn is_empty(db: &crate::Db) -> Result<bool, DbErr> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    Ok(case::Entity::find().count(db).await? == 0)
}

/// The source key of an ENFORCEMENT case whose case numbers it shares with cases of all five
/// systems (a chain across all of them), if the database holds one.
pub async fn five_system_case(db: &crate::Db) -> Result<Option<String>, DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT c.source_key AS v FROM cases c \
             JOIN case_keys k ON k.case_id = c.id AND k.kind = 'CASE_NO' \
             JOIN case_keys k2 ON k2.kind = 'CASE_NO' AND k2.value = k.value \
             JOIN cases c2 ON c2.id = k2.case_id AND c2.deleted = false \
             WHERE c.source = 'ENFORCEMENT' AND c.deleted = false \
             GROUP BY c.source_key HAVING COUNT(DISTINCT c2.source) = 5 ORDER BY c.source_key LIMIT 1",
        ))
        .await?;
    Ok(row.and_then(|r| r.try_get::<Option<String>>("", "v").ok().flatten()))
}

/// A practitioner with a conviction (for a demo `citizen` token) and a registered company
/// (for a demo `employer` token), if the database holds reference data.
pub async fn sample_identities(db: &crate::Db) -> Result<(Option<String>, Option<String>), DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let person = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT MIN(p.id_number) AS v FROM practitioner_rows p JOIN conviction_rows c ON c.id_number = p.id_number \
             WHERE p.in_post = true",
        ))
        .await?
        .and_then(|r| r.try_get::<Option<String>>("", "v").ok().flatten());
    let company = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT MIN(credit_code) AS v FROM registry_rows",
        ))
        .await?
        .and_then(|r| r.try_get::<Option<String>>("", "v").ok().flatten());
    Ok((person, company))
}

pub async fn load_generated_world(
    db: &sea_orm::DatabaseConnection,
    dir: &std::path::Path,
    scale: u64,
    seed: u64,
) -> anyhow::Result<Vec<crate::ingest::FileReport>> {
    use anyhow::Context;
    let summary = adapters::demo::generate(dir, scale, seed)
        .with_context(|| format!("writing the demo world to {}", dir.display()))?;
    let mut reports = Vec::new();
    for source in Source::ALL {
        let mut files: Vec<&std::path::PathBuf> = summary
            .files
            .iter()
            .filter(|f| {
                f.parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n == source.slug())
                    .unwrap_or(false)
            })
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            reports.push(
                crate::ingest::ingest_file_with_progress(db, *source, &name, &bytes, Link::Later, |_, _| {}).await?,
            );
        }
    }
    for file in summary.files.iter().filter(|f| {
        f.parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "inspections")
    }) {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let report =
            crate::inspections::load::load_file(db, &name, &bytes, crate::inspections::Settings::default().task_days)
                .await
                .map_err(|e| anyhow::anyhow!("loading {name}: {e:?}"))?;
        reports.push(report);
    }
    crate::org_names::link_pending(db).await?;
    for feed in entities::Feed::REFERENCE {
        let mut files: Vec<&std::path::PathBuf> = summary
            .files
            .iter()
            .filter(|f| {
                f.parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n.to_string_lossy() == feed.slug())
            })
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let report = crate::reference::load_file(db, *feed, &name, &bytes)
                .await
                .map_err(|e| anyhow::anyhow!("loading {name}: {e:?}"))?;
            reports.push(report);
        }
    }
    Ok(reports)
}

//! `qianchuan demo`: a synthetic world written as export files of all five sources,
//! in their delivery formats, with the spelling variations of the interface documents,
//! some bad input, and `truth.jsonl`: the records of every incident (the true chains); a
//! year of 平安督 inspections of the demo towns (`inspections/`); and the five reference feeds
//! with `reference_truth.json`, what the supervision models must find (`reference`).

mod inspections;
pub mod reference;
mod rng;
mod spell;
mod world;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use rng::Rng;
use world::{World, REGIONS};

/// Records per file before a new file is started.
const PER_FILE: usize = 50_000;
const PER_PAGE: usize = 500;

/// What `generate` wrote.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    pub enforcement: usize,
    pub discipline: usize,
    pub congress: usize,
    pub procuratorate: usize,
    pub social: usize,
    pub files: Vec<PathBuf>,
}

impl Summary {
    pub fn records(&self) -> usize {
        self.enforcement + self.discipline + self.congress + self.procuratorate + self.social
    }
}

/// A file split into numbered parts as it grows.
struct Parts {
    dir: PathBuf,
    name: Box<dyn Fn(usize) -> String>,
    head: Vec<u8>,
    tail: Vec<u8>,
    limit: usize,
    count: usize,
    part: usize,
    out: Option<BufWriter<File>>,
    files: Vec<PathBuf>,
}

impl Parts {
    fn new(
        dir: &Path,
        name: impl Fn(usize) -> String + 'static,
        head: Vec<u8>,
        tail: Vec<u8>,
        limit: usize,
    ) -> std::io::Result<Parts> {
        std::fs::create_dir_all(dir)?;
        Ok(Parts {
            dir: dir.to_path_buf(),
            name: Box::new(name),
            head,
            tail,
            limit,
            count: 0,
            part: 0,
            out: None,
            files: Vec::new(),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.out.is_none() || self.count >= self.limit {
            self.finish_part()?;
            self.part += 1;
            let path = self.dir.join((self.name)(self.part));
            let mut out = BufWriter::new(File::create(&path)?);
            out.write_all(&self.head)?;
            self.out = Some(out);
            self.files.push(path);
            self.count = 0;
        }
        self.count += 1;
        match self.out.as_mut() {
            Some(out) => out.write_all(bytes),
            None => Ok(()),
        }
    }

    fn finish_part(&mut self) -> std::io::Result<()> {
        if let Some(mut out) = self.out.take() {
            out.write_all(&self.tail)?;
            out.flush()?;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Vec<PathBuf>> {
        self.finish_part()?;
        Ok(self.files)
    }
}

fn gb18030(text: &str) -> Vec<u8> {
    encoding_rs::GB18030.encode(text).0.into_owned()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_row(fields: &[String]) -> String {
    let mut row = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    row.push_str("\r\n");
    row
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STAGES: &[&str] = &["发现", "督办", "整改", "回访", "销号"];

/// Writes a world of about `scale` records under `out`.
pub fn generate(out: &Path, scale: u64, seed: u64) -> std::io::Result<Summary> {
    let world = World::generate(scale, seed);
    let mut rng = Rng::new(seed.wrapping_add(1));
    let mut summary = Summary::default();
    let mut enforcement = Parts::new(
        &out.join("enforcement"),
        |i| format!("zfjd_2023{:02}{:02}.ndjson", 1 + (i - 1) / 28 % 12, 1 + (i - 1) % 28),
        vec![],
        vec![],
        PER_FILE,
    )?;
    let discipline_header = gb18030(&csv_row(
        &crate::discipline::COLUMNS
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
    ));
    let mut discipline = Parts::new(
        &out.join("discipline"),
        |i| format!("jjjc_xsczs_{}{:02}.csv", 2023 + (i - 1) / 12, 1 + (i - 1) % 12),
        discipline_header,
        vec![],
        PER_FILE,
    )?;
    let congress_head =
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<JDSXPL xmlns=\"urn:rd:sfjd:1.0\" pc=\"20230131\">\n".to_vec();
    let mut congress = Parts::new(
        &out.join("congress"),
        |i| format!("rdsfjd_2023{:02}{:02}.xml", 1 + (i - 1) / 28 % 12, 1 + (i - 1) % 28),
        congress_head,
        b"</JDSXPL>\n".to_vec(),
        PER_FILE,
    )?;
    let mut social_head = vec![0xEF, 0xBB, 0xBF];
    social_head.extend(csv_row(&crate::social::COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>()).as_bytes());
    let mut social = Parts::new(
        &out.join("social"),
        |i| format!("shjd_gd_2023{:02}{:02}.csv", 1 + (i - 1) / 28 % 12, 1 + (i - 1) % 28),
        social_head,
        vec![],
        PER_FILE,
    )?;
    std::fs::create_dir_all(out.join("procuratorate"))?;
    let mut truth = BufWriter::new(File::create(out.join("truth.jsonl"))?);
    let mut pages: Vec<serde_json::Value> = Vec::new();
    let mut page_files = Vec::new();
    let mut second_versions: Vec<String> = Vec::new();
    // The companies some stored record names (a party, or in its text): what makes a shell HIGH.
    let mut named_companies = std::collections::BTreeSet::new();

    for (i, inc) in world.incidents.iter().enumerate() {
        let n = i + 1;
        let (code, region_name, town) = REGIONS[inc.region];
        let officer = &world.officers[inc.officer];
        let company = inc.company.map(|c| &world.companies[c]);
        let people: Vec<&world::Person> = inc.persons.iter().map(|p| &world.people[*p]).collect();
        let first = people[0];
        let mut records: Vec<(&str, String)> = Vec::new();

        // ENFORCEMENT: always.
        let jdbh = format!("ZFJD-{code}-{}-{n:06}", inc.year);
        let mut dsr: Vec<serde_json::Value> = people
            .iter()
            .map(|p| {
                let id = if rng.percent(2) { spell::corrupt_id(&p.id_number) } else { spell::id_number(&mut rng, &p.id_number) };
                let mut d = json!({"XM": spell::spaced_name(&mut rng, &p.name), "ZJHM": id, "LXDH": spell::phone(&mut rng, &p.phone), "JS": "犯罪嫌疑人"});
                if rng.percent(85) {
                    d["ZJLX"] = json!("居民身份证");
                }
                d
            })
            .collect();
        if let Some(c) = company {
            dsr.push(json!({"XM": c.name, "ZJLX": "统一社会信用代码", "ZJHM": c.credit_code, "JS": "单位"}));
        }
        let stage = rng.below(STAGES.len() as u64) as usize;
        let mut e = json!({
            "JDBH": jdbh, "BBH": 1, "AJBH": spell::police_no(&mut rng, &inc.police_no),
            "AJMC": format!("{}某某涉嫌诈骗案", first.name.chars().next().unwrap_or('王')), "AJLB": "刑事",
            "BLDW": officer.agency, "BLDWDM": officer.agency_code, "BLR": [{"XM": officer.name, "JH": officer.badge}],
            "DSR": if dsr.len() == 1 && rng.percent(20) { dsr[0].clone() } else { json!(dsr) },
            "WTLX": "应立未立", "WTMS": format!("群众多次报案未立案，关联{}", spell::court_no(&mut rng, &inc.court_no)),
            "JDLY": "群众来信", "JDZT": STAGES[stage], "FXRQ": spell::date_compact_or_dashed(&mut rng, inc.year, inc.month, inc.day),
            "XZQH": code, "XZJD": town, "SCSJ": format!("{}-{:02}-{:02} 10:15:00", inc.year, inc.month, inc.day),
        });
        if rng.percent(10) {
            e["BBH"] = json!("1");
        }
        let line = if rng.below(1000) < 3 {
            format!("{{\"JDBH\":\"{jdbh}\",\"BBH\":1,\"AJMC\":\"截断")
        } else {
            named_companies.extend(inc.company);
            e.to_string()
        };
        enforcement.write(format!("{line}\n").as_bytes())?;
        summary.enforcement += 1;
        records.push(("ENFORCEMENT", jdbh.clone()));
        if rng.percent(10) && stage + 1 < STAGES.len() {
            // The second version is stored even when the first line was cut short.
            named_companies.extend(inc.company);
            e["BBH"] = json!(2);
            e["JDZT"] = json!(STAGES[stage + 1]);
            second_versions.push(e.to_string());
        }

        // PROCURATORATE: supervises the police case.
        if rng.percent(60) {
            let id = format!("PROC-SUP-{}-{n:06}", inc.year);
            let mut subjects = vec![
                json!({"type": "PERSON", "name": officer.name, "idNo": if rng.percent(50) { json!(officer.id_number) } else { json!(null) }, "phone": null, "role": "OFFICIAL"}),
            ];
            subjects.push(json!({"type": "PERSON", "name": first.name, "idNo": spell::id_number(&mut rng, &first.id_number), "phone": spell::phone(&mut rng, &first.phone), "role": "SUSPECT"}));
            let item = json!({
                "id": id, "version": 1, "docNo": spell::proc_no(&mut rng, &inc.proc_no), "kind": "CASE_FILING_SUPERVISION",
                "title": "督促公安机关立案监督", "summary": format!("针对{}号案件应立未立情形开展立案监督", inc.police_no),
                "procuratorate": {"name": format!("{region_name}人民检察院"), "regionCode": code},
                "procurators": [{"name": "周敏", "employeeNo": format!("P{:04}", n % 10_000)}], "targetAgency": officer.agency,
                "relatedCases": [{"caseNo": spell::police_no(&mut rng, &inc.police_no), "agencyName": officer.agency}],
                "subjects": subjects, "status": "ISSUED",
                "filedAt": format!("{}-{:02}-{:02}T10:15:00+08:00", inc.year, inc.month, inc.day),
                "updatedAt": format!("{}-{:02}-{:02}T11:00:00+08:00", inc.year, inc.month, inc.day),
                "closedAt": null, "feedback": null, "regionCode": code,
            });
            pages.push(item);
            summary.procuratorate += 1;
            records.push(("PROCURATORATE", id.clone()));
            if rng.below(1000) < 5 {
                pages.push(json!({"version": 1, "title": "缺少编号"}));
            }
            if pages.len() >= PER_PAGE {
                page_files.push(write_page(out, page_files.len() + 1, &mut pages, false)?);
            }
        }

        // DISCIPLINE: a clue about the officer.
        if rng.percent(30) {
            let key = format!("{}纪线〔{}〕{n}号", &region_name[..3], inc.year);
            let spelled = if rng.percent(20) {
                key.replace('〔', "[").replace('〕', "]")
            } else {
                key.clone()
            };
            let transferred = rng.percent(15);
            let mut fields: Vec<String> = vec![
                spelled,
                "1".into(),
                officer.name.clone(),
                spell::id_number(&mut rng, &officer.id_number),
                officer.agency.clone(),
                "派出所所长".into(),
                "正科级".into(),
                "中共党员".into(),
                format!(
                    "反映{}在{}号案件中应立未立，涉及{}。",
                    officer.name,
                    inc.police_no,
                    company.map(|c| c.name.as_str()).unwrap_or("有关单位")
                ),
                "充当保护伞".into(),
                if transferred {
                    "司法机关移送".into()
                } else {
                    "信访举报".into()
                },
                "初步核实".into(),
                spell::date_chinese_styles(&mut rng, inc.year, inc.month, inc.day),
                String::new(),
                String::new(),
                if rng.percent(5) {
                    "移送检察机关".into()
                } else {
                    String::new()
                },
                "1,234.5".into(),
                spell::court_no(&mut rng, &inc.court_no),
                "第一监督检查室".into(),
                region_name.into(),
            ];
            if rng.below(1000) < 5 {
                fields.truncate(12);
            } else {
                named_companies.extend(inc.company);
            }
            discipline.write(&gb18030(&csv_row(&fields)))?;
            summary.discipline += 1;
            records.push(("DISCIPLINE", key));
        }

        // CONGRESS: a petition about the court case.
        if rng.percent(25) {
            let sxbh = format!("RDJD-{code}-{}-{n:06}", inc.year);
            let deputy = &world.people[(inc.persons[0] + 1) % world.people.len()];
            let key_element = if rng.below(1000) < 5 {
                String::new()
            } else {
                named_companies.extend(inc.company);
                format!("<SXBH>{sxbh}</SXBH>")
            };
            let item = format!(
                "  <JDSX>\n    {key_element}\n    <SXLX>涉法涉诉信访</SXLX>\n    <BT>关于执行案件久拖未结的信访</BT>\n    <NR><![CDATA[信访人{}反映{}案件长期未执行，涉及{}。]]></NR>\n    <JDDX>{}人民法院</JDDX>\n    <SJAJ><AH>{}</AH></SJAJ>\n    <DBXX><DB><XM>{}</XM><DBTMC>{}代表团</DBTMC><SJHM>{}</SJHM></DB></DBXX>\n    <DSR ZJLX=\"居民身份证\" ZJHM=\"{}\" JS=\"申请人\">{}</DSR>\n    <BLZT>办理中</BLZT>\n    <JBRQ>{}-{:02}-{:02}</JBRQ>\n    <XZQH>{code}</XZQH>\n  </JDSX>\n",
                xml_escape(&first.name), inc.court_no, company.map(|c| c.name.as_str()).unwrap_or("有关单位"), xml_escape(region_name),
                xml_escape(&spell::court_no(&mut rng, &inc.court_no)), xml_escape(&deputy.name), xml_escape(region_name), deputy.phone,
                xml_escape(&first.id_number), xml_escape(&first.name), inc.year, inc.month, inc.day,
            );
            congress.write(item.as_bytes())?;
            summary.congress += 1;
            records.push(("CONGRESS", sxbh));
        }

        // SOCIAL: a complaint that names the company and a phone.
        if rng.percent(50) {
            let key = format!("GD{}{:02}{:02}{n:06}", inc.year, inc.month, inc.day);
            let (complainant, phone) = match rng.below(3) {
                0 => ("匿名".to_string(), String::new()),
                1 => (
                    format!("{}**", first.name.chars().next().unwrap_or('王')),
                    spell::masked_phone(&first.phone),
                ),
                _ => (first.name.clone(), spell::phone(&mut rng, &first.phone)),
            };
            let subject = company.map(|c| c.name.clone()).unwrap_or_default();
            let text = format!(
                "来电人反映{}拖欠工资，\n联系电话{}，相关案件{}。",
                if subject.is_empty() {
                    "某单位"
                } else {
                    subject.as_str()
                },
                spell::phone(&mut rng, &first.phone),
                spell::police_no(&mut rng, &inc.police_no)
            );
            let fields: Vec<String> = vec![
                if rng.below(1000) < 3 {
                    String::new()
                } else {
                    named_companies.extend(inc.company);
                    key.clone()
                },
                "12345热线".into(),
                format!("{}/{}/{} 10:15", inc.year, inc.month, inc.day),
                complainant,
                phone,
                "投诉".into(),
                text,
                subject,
                format!("{town}某小区"),
                code.into(),
                town.into(),
                "人力社保局".into(),
                "已办结".into(),
                String::new(),
                "满意".into(),
            ];
            social.write(csv_row(&fields).as_bytes())?;
            summary.social += 1;
            records.push(("SOCIAL", key));
        }
        writeln!(truth, "{}", json!({"incident": n, "records": records}))?;
    }
    for line in second_versions {
        enforcement.write(format!("{line}\n").as_bytes())?;
        summary.enforcement += 1;
    }
    if !pages.is_empty() {
        page_files.push(write_page(out, page_files.len() + 1, &mut pages, true)?);
    }
    truth.flush()?;
    summary.files.extend(enforcement.finish()?);
    summary.files.extend(discipline.finish()?);
    summary.files.extend(congress.finish()?);
    summary.files.extend(page_files);
    summary.files.extend(social.finish()?);
    summary.files.push(inspections::write(out, seed)?);
    summary
        .files
        .extend(reference::write(out, &world, &named_companies, seed)?);
    Ok(summary)
}

fn write_page(out: &Path, n: usize, items: &mut Vec<serde_json::Value>, last: bool) -> std::io::Result<PathBuf> {
    let path = out.join("procuratorate").join(format!("proc_page_{n:04}.json"));
    let next = if last {
        json!(null)
    } else {
        json!(format!("c{}", n + 1))
    };
    std::fs::write(
        &path,
        json!({"items": std::mem::take(items), "nextCursor": next}).to_string(),
    )?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_writes_the_same_world_and_every_file_parses() {
        let base = std::env::temp_dir().join(format!("qc-demo-{}", std::process::id()));
        let a = generate(&base.join("a"), 300, 7).unwrap();
        let b = generate(&base.join("b"), 300, 7).unwrap();
        assert_eq!(a.records(), b.records());
        assert!(a.records() >= 250, "{a:?}");
        for (fa, fb) in a.files.iter().zip(&b.files) {
            assert_eq!(std::fs::read(fa).unwrap(), std::fs::read(fb).unwrap());
        }
        for file in &a.files {
            let bytes = std::fs::read(file).unwrap();
            match file.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()) {
                Some("inspections") => {
                    let parsed = crate::inspections::parse("f", &bytes).unwrap();
                    assert!(parsed.inspections.len() > 100 && parsed.quarantined.is_empty());
                    assert!(parsed.inspections.iter().any(|i| i.problems.is_empty()));
                    assert!(parsed.inspections.iter().any(|i| !i.problems.is_empty()));
                }
                Some(dir) if entities::Feed::parse(dir).is_some_and(|f| f.is_reference()) => {
                    let feed = entities::Feed::parse(dir).unwrap();
                    let name = file.file_name().unwrap().to_str().unwrap();
                    let parsed = crate::reference::parse(feed, name, &bytes).unwrap();
                    assert!(!parsed.rows.is_empty(), "{name}");
                }
                Some(dir) => {
                    let source = entities::Source::parse(dir).unwrap();
                    assert!(!crate::parse(source, "f", &bytes).unwrap().items.is_empty());
                }
                None => panic!(),
            }
        }
        let _ = std::fs::remove_dir_all(&base);
    }
}

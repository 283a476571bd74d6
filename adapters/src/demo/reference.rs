//! The reference feeds of the demo world (`sources/reference.md`), drawn from the same world,
//! with `reference_truth.json`: what the two supervision models must find as of `AS_OF`,
//! known by construction (each company and practitioner is written to be one case of
//! MODELS.md, on one side of each date boundary), not by running the models.
//!
//! - registry: every company of the world (their regions are in their credit codes) and as
//!   many again that no case names; insurance and tax for 2023, with a corrected insurance
//!   month and a re-declared tax period;
//! - practitioners: new people (no case names them, so none has a pending matter), one trade
//!   each, some with convictions that fire every RED rule or stop one day short of it;
//! - a few rows of bad input, quarantined on load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::rng::Rng;
use super::world::{credit_code, id_number, person_name, World, REGIONS};

/// The date the truth is computed for: M = 2023-12, the window 2023-07..2023-12, companies
/// established on or before 2023-07-01 are old enough.
pub const AS_OF: &str = "2024-01-15";

/// What a company is written to be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Company {
    /// Insurance every month.
    Insured,
    /// No insurance; tax paid in one month of the window.
    TaxPaying,
    /// Insurance only in the window's last month.
    InsuredInDecember,
    /// Insurance only the month before the window: a shell.
    InsuredInJune,
    /// No rows at all: a shell.
    Silent,
    /// Zero rows (参保人数 0, 零申报) in the window: a shell.
    Zeros,
    /// Established a day too late to be judged.
    Young,
    /// Established on the last day that counts: a shell.
    JustOldEnough,
    /// 吊销 / 注销 / 迁出, silent: not a finding.
    Revoked,
    Deregistered,
    MovedOut,
    /// Insured in October by the first file, corrected to 0 by `_2`: a shell.
    CorrectedToZero,
    /// 0 in October by the first file, corrected to 3 by `_2`: insured.
    CorrectedToInsured,
    /// Paid tax in September, re-declared 0 later: a shell.
    Redeclared,
}

impl Company {
    const ALL: [Company; 14] = [
        Company::Insured,
        Company::TaxPaying,
        Company::InsuredInDecember,
        Company::InsuredInJune,
        Company::Silent,
        Company::Zeros,
        Company::Young,
        Company::JustOldEnough,
        Company::Revoked,
        Company::Deregistered,
        Company::MovedOut,
        Company::CorrectedToZero,
        Company::CorrectedToInsured,
        Company::Redeclared,
    ];

    fn shell(self) -> bool {
        matches!(
            self,
            Company::InsuredInJune
                | Company::Silent
                | Company::Zeros
                | Company::JustOldEnough
                | Company::CorrectedToZero
                | Company::Redeclared
        )
    }
}

/// A practitioner's story: trade, post, convictions and the code it must get.
struct Story {
    trade: &'static str,
    code: &'static str,
    post: &'static str,
    convictions: Vec<Judgment>,
    color: &'static str,
}

/// A conviction as written: charges, kind of penalty, months, sxrq, xmjsrq, ban (trade, years).
type Judgment = (
    &'static [&'static str],
    &'static str,
    Option<u32>,
    &'static str,
    Option<&'static str>,
    Option<(&'static str, u32)>,
);

fn stories() -> Vec<Story> {
    let s = |trade, code, post, convictions, color| Story {
        trade,
        code,
        post,
        convictions,
        color,
    };
    vec![
        s(
            "教育培训",
            "EDUCATION",
            "教师",
            vec![(
                &["猥亵儿童罪"][..],
                "有期徒刑",
                Some(36),
                "2002-03-01",
                Some("2005-03-01"),
                None,
            )],
            "RED",
        ),
        s(
            "养老服务",
            "ELDERLY_CARE",
            "养老护理员",
            vec![(
                &["虐待被监护、看护人罪"][..],
                "有期徒刑",
                Some(12),
                "2018-01-01",
                Some("2019-01-16"),
                None,
            )],
            "RED",
        ),
        s(
            "养老服务",
            "ELDERLY_CARE",
            "养老护理员",
            vec![(
                &["诈骗罪"][..],
                "有期徒刑",
                Some(12),
                "2018-01-01",
                Some("2019-01-15"),
                None,
            )],
            "BLUE",
        ),
        s(
            "食品药品",
            "FOOD_DRUG",
            "食品经营者",
            vec![(&["生产、销售假药罪"][..], "单处罚金", None, "2010-05-05", None, None)],
            "RED",
        ),
        s(
            "医疗卫生",
            "MEDICAL",
            "执业医师",
            vec![(
                &["盗窃罪"][..],
                "有期徒刑",
                Some(12),
                "2021-01-16",
                Some("2022-01-16"),
                None,
            )],
            "RED",
        ),
        s(
            "医疗卫生",
            "MEDICAL",
            "护士",
            vec![(
                &["盗窃罪"][..],
                "有期徒刑",
                Some(12),
                "2021-01-15",
                Some("2022-01-15"),
                None,
            )],
            "YELLOW",
        ),
        s(
            "医疗卫生",
            "MEDICAL",
            "护士",
            vec![(&["盗窃罪"][..], "有期徒刑", Some(24), "2023-03-01", None, None)],
            "RED",
        ),
        s(
            "医疗卫生",
            "MEDICAL",
            "执业医师",
            vec![(
                &["非法行医罪"][..],
                "拘役",
                Some(6),
                "2018-07-16",
                Some("2019-01-16"),
                None,
            )],
            "RED",
        ),
        s(
            "医疗卫生",
            "MEDICAL",
            "执业医师",
            vec![(
                &["非法行医罪"][..],
                "拘役",
                Some(6),
                "2018-07-15",
                Some("2019-01-15"),
                None,
            )],
            "BLUE",
        ),
        s(
            "医疗卫生",
            "MEDICAL",
            "护士",
            vec![(&["故意伤害罪"][..], "免予刑事处罚", None, "2023-06-01", None, None)],
            "YELLOW",
        ),
        s(
            "道路运输",
            "ROAD_TRANSPORT",
            "道路客运驾驶员",
            vec![(
                &["危险驾驶罪"][..],
                "拘役",
                Some(2),
                "2019-01-16",
                Some("2019-03-16"),
                None,
            )],
            "RED",
        ),
        s(
            "道路运输",
            "ROAD_TRANSPORT",
            "道路货运驾驶员",
            vec![(
                &["交通肇事罪"][..],
                "拘役",
                Some(3),
                "2019-01-15",
                Some("2019-04-15"),
                None,
            )],
            "YELLOW",
        ),
        s(
            "道路运输",
            "ROAD_TRANSPORT",
            "调度员",
            vec![(
                &["危险驾驶罪"][..],
                "拘役",
                Some(2),
                "2022-05-01",
                Some("2022-07-01"),
                None,
            )],
            "YELLOW",
        ),
        s(
            "教育培训",
            "EDUCATION",
            "培训机构从业人员",
            vec![(
                &["盗窃罪"][..],
                "有期徒刑",
                Some(12),
                "2019-01-01",
                Some("2020-01-01"),
                Some(("全部", 5)),
            )],
            "RED",
        ),
        s(
            "食品药品",
            "FOOD_DRUG",
            "食品经营者",
            vec![(
                &["盗窃罪"][..],
                "有期徒刑",
                Some(12),
                "2019-01-15",
                Some("2020-01-15"),
                Some(("全部", 3)),
            )],
            "YELLOW",
        ),
        s(
            "养老服务",
            "ELDERLY_CARE",
            "养老护理员",
            vec![(
                &["盗窃罪"][..],
                "有期徒刑",
                Some(12),
                "2019-01-01",
                Some("2020-01-01"),
                Some(("医疗卫生", 10)),
            )],
            "YELLOW",
        ),
        s(
            "医疗卫生",
            "MEDICAL",
            "执业医师",
            vec![(
                &["盗窃罪"][..],
                "有期徒刑",
                Some(12),
                "2019-01-01",
                Some("2020-01-01"),
                Some(("医疗卫生", 10)),
            )],
            "RED",
        ),
        s(
            "教育培训",
            "EDUCATION",
            "教师",
            vec![(
                &["盗窃罪"][..],
                "有期徒刑",
                Some(12),
                "2008-01-01",
                Some("2009-01-01"),
                None,
            )],
            "BLUE",
        ),
    ]
}

const TRADES: [(&str, &str, &str, &[&str]); 5] = [
    ("医疗卫生", "MEDICAL", "ylws", &["执业医师", "护士"]),
    ("食品药品", "FOOD_DRUG", "spyp", &["食品经营者"]),
    ("道路运输", "ROAD_TRANSPORT", "dlys", &["道路客运驾驶员", "调度员"]),
    ("教育培训", "EDUCATION", "jypx", &["教师", "培训机构从业人员"]),
    ("养老服务", "ELDERLY_CARE", "ylfw", &["养老护理员"]),
];

fn row(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn write_file(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Writes the five feeds under `out/{registry,insurance,tax,practitioners,convictions}` and
/// `out/reference_truth.json`; returns the feeds' files.
/// `named`: the world's companies some stored record names, as a party or in its text.
pub fn write(
    out: &Path,
    world: &World,
    named: &std::collections::BTreeSet<usize>,
    seed: u64,
) -> std::io::Result<Vec<PathBuf>> {
    let mut rng = Rng::new(seed.wrapping_add(13));
    let mut files = Vec::new();

    // Companies: the world's, and as many again that no case names.
    let mut companies: Vec<(String, String, String)> = world
        .companies
        .iter()
        .map(|c| (c.name.clone(), c.credit_code.clone(), c.credit_code[2..8].to_string()))
        .collect();
    let extra = companies.len();
    // Credit codes are drawn again when taken (a collision would merge two companies).
    let mut taken: std::collections::HashSet<String> = companies.iter().map(|c| c.1.clone()).collect();
    for i in 0..extra {
        let (code, _, _) = *rng.pick(REGIONS);
        let city = if code.starts_with("3301") { "杭州" } else { "金华" };
        let mut credit = credit_code(&mut rng, code);
        while !taken.insert(credit.clone()) {
            credit = credit_code(&mut rng, code);
        }
        companies.push((format!("{city}登记{i}商贸有限公司"), credit, code.to_string()));
    }
    let mut registry = vec![row(&[
        "统一社会信用代码",
        "企业名称",
        "企业类型",
        "法定代表人",
        "法定代表人证件号码",
        "成立日期",
        "登记状态",
        "注册地址",
        "所属区划",
        "经营范围",
        "更新时间",
    ]
    .map(str::to_string))];
    let mut insurance: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut tax: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut truth_shells = serde_json::Map::new();
    let months: Vec<String> = (1..=12).map(|m| format!("2023{m:02}")).collect();
    for (i, (name, code, region)) in companies.iter().enumerate() {
        let kind = Company::ALL[rng.below(Company::ALL.len() as u64) as usize];
        let established = match kind {
            Company::Young => "2023-07-02".to_string(),
            Company::JustOldEnough => "2023/07/01".to_string(),
            _ => format!(
                "{}{:02}{:02}",
                2012 + rng.below(10),
                1 + rng.below(12),
                1 + rng.below(28)
            ),
        };
        let status = match kind {
            Company::Revoked => "吊销",
            Company::Deregistered => "注销",
            Company::MovedOut => "迁出",
            _ if rng.percent(20) => "在业",
            _ => "存续",
        };
        let legal = person_name(&mut rng);
        let legal_id = if rng.percent(50) {
            id_number(&mut rng, region)
        } else {
            format!("{}********{:04}", &region[..6], rng.below(10_000))
        };
        registry.push(row(&[
            if rng.percent(10) {
                code.to_lowercase()
            } else {
                code.clone()
            },
            name.clone(),
            "有限责任公司".into(),
            legal,
            legal_id,
            established,
            status.into(),
            format!("浙江省某地{}号", 1 + rng.below(999)),
            region.clone(),
            "批发和零售".into(),
            format!("2023-01-{:02} 09:{:02}:00", 1 + rng.below(28), rng.below(60)),
        ]));
        let insured_months: Vec<&String> = match kind {
            Company::Insured => months.iter().collect(),
            Company::InsuredInDecember => months.iter().filter(|m| m.ends_with("12")).collect(),
            Company::InsuredInJune => months.iter().filter(|m| m.ends_with("06")).collect(),
            _ => Vec::new(),
        };
        for m in insured_months {
            let n = 1 + rng.below(40);
            insurance.entry(m.clone()).or_default().push(row(&[
                code.clone(),
                name.clone(),
                m.clone(),
                n.to_string(),
                format!("{}.{:02}", n * 1200, rng.below(100)),
            ]));
        }
        match kind {
            Company::Zeros => {
                for m in &months[6..] {
                    insurance.entry(m.clone()).or_default().push(row(&[
                        code.clone(),
                        name.clone(),
                        m.clone(),
                        "0".into(),
                        "0.00".into(),
                    ]));
                    tax.entry(m.clone()).or_default().push(
                        json!({"nsrsbh": code, "nsrmc": name, "sssq": format!("{}-{}", &m[..4], &m[4..]), "ynse": "0.00", "sjse": "0.00", "sbrq": format!("{}-{}-15", &m[..4], &m[4..])}).to_string(),
                    );
                }
            }
            Company::TaxPaying => {
                tax.entry("202309".into()).or_default().push(
                    json!({"nsrsbh": code, "nsrmc": name, "sssq": "202309", "ynse": "1800.00", "sjse": "1800.00", "sbrq": "2023-10-12"}).to_string(),
                );
            }
            Company::Redeclared => {
                let first = json!({"nsrsbh": code, "nsrmc": name, "sssq": "2023-09", "ynse": "900.00", "sjse": "900.00", "sbrq": "2023-10-10"});
                let again = json!({"nsrsbh": code, "nsrmc": name, "sssq": "2023-09", "ynse": "0.00", "sjse": "0.00", "sbrq": "2023-10-20"});
                // The later declaration comes first in the file of the next month: versions decide.
                tax.entry("202310".into()).or_default().push(again.to_string());
                tax.entry("202309".into()).or_default().push(first.to_string());
            }
            Company::CorrectedToZero | Company::CorrectedToInsured => {
                let (first, second) = if kind == Company::CorrectedToZero {
                    ("3", "0")
                } else {
                    ("0", "3")
                };
                insurance.entry("202310".into()).or_default().push(row(&[
                    code.clone(),
                    name.clone(),
                    "202310".into(),
                    first.into(),
                    "0.00".into(),
                ]));
                insurance.entry("202310_2".into()).or_default().push(row(&[
                    code.clone(),
                    name.clone(),
                    "202310".into(),
                    second.into(),
                    "0.00".into(),
                ]));
            }
            _ => {}
        }
        if kind.shell() {
            let level = if i < world.companies.len() && named.contains(&i) {
                "HIGH"
            } else {
                "MEDIUM"
            };
            truth_shells.insert(code.clone(), json!(level));
        }
    }
    // Bad input: a month that is not one, a negative head count, a credit code that fails its check.
    registry.push(row(&[
        "91330110MA2H3K4L5X".into(),
        "坏码商贸有限公司".into(),
        "有限责任公司".into(),
        String::new(),
        String::new(),
        "2015-01-01".into(),
        "存续".into(),
        String::new(),
        "330110".into(),
        String::new(),
        "2023-01-02 10:00:00".into(),
    ]));
    insurance.entry("202301".into()).or_default().push(row(&[
        companies[0].1.clone(),
        companies[0].0.clone(),
        "2023-13".into(),
        "1".into(),
        "1.00".into(),
    ]));
    insurance.entry("202302".into()).or_default().push(row(&[
        companies[0].1.clone(),
        companies[0].0.clone(),
        "202302".into(),
        "-2".into(),
        "1.00".into(),
    ]));
    files.push(write_file(
        &out.join("registry"),
        "scztdj_20230101.csv",
        &(registry.join("\n") + "\n"),
    )?);
    let insurance_head = "统一社会信用代码,单位名称,费款所属期,参保人数,实缴金额";
    for (suffix, rows) in &insurance {
        let text = format!("{insurance_head}\n{}\n", rows.join("\n"));
        files.push(write_file(
            &out.join("insurance"),
            &format!("sbjf_{suffix}.csv"),
            &text,
        )?);
    }
    for (month, rows) in &tax {
        files.push(write_file(
            &out.join("tax"),
            &format!("nsxx_{month}.ndjson"),
            &(rows.join("\n") + "\n"),
        )?);
    }

    // Practitioners: new people, employed by the companies above.
    let stories = stories();
    let mut practitioners: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut convictions = Vec::new();
    let mut truth_codes = serde_json::Map::new();
    let people = (world.people.len() / 2).max(stories.len() * 2);
    // Practitioners are new people: an ID number already used (by a person of the cases, whose
    // matters would be pending, or by another practitioner) is drawn again.
    let mut used: std::collections::HashSet<String> = world
        .people
        .iter()
        .map(|p| p.id_number.clone())
        .chain(world.officers.iter().map(|o| o.id_number.clone()))
        .collect();
    for p in 0..people {
        let (region, _, _) = *rng.pick(REGIONS);
        let mut id = id_number(&mut rng, region);
        while !used.insert(id.clone()) {
            id = id_number(&mut rng, region);
        }
        let name = person_name(&mut rng);
        let employer = &companies[rng.below(companies.len() as u64) as usize];
        // Every story at least once, then a third of the people with one.
        let story = if p < stories.len() {
            Some(&stories[p])
        } else if rng.percent(33) {
            Some(&stories[rng.below(stories.len() as u64) as usize])
        } else {
            None
        };
        let (trade, code, post) = match story {
            Some(s) => (s.trade, s.code, s.post),
            None => {
                let (trade, code, _, posts) = TRADES[rng.below(5) as usize];
                (trade, code, *rng.pick(posts))
            }
        };
        let left = story.is_none() && rng.percent(8);
        let file_code = TRADES.iter().find(|t| t.1 == code).map(|t| t.2).unwrap_or("ylws");
        practitioners.entry(file_code).or_default().push(row(&[
            id.clone(),
            name.clone(),
            trade.into(),
            post.into(),
            format!("ZG{:08}", rng.below(100_000_000)),
            employer.1.clone(),
            employer.0.clone(),
            if left { "离岗" } else { "在岗" }.into(),
            employer.2.clone(),
            format!("2023-0{}-{:02} 10:00:00", 1 + rng.below(9), 1 + rng.below(28)),
        ]));
        if !left {
            truth_codes.insert(format!("{id}|{code}"), json!(story.map(|s| s.color).unwrap_or("BLUE")));
        }
        for (n, (charges, kind, months, sxrq, released, ban)) in story
            .map(|s| s.convictions.clone())
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let year = &sxrq[..4];
            // Some judgments carry the case number of a case in the hub (the judgment links to it).
            let ah = match world.incidents.get(p * 7 % world.incidents.len().max(1)) {
                Some(inc) if rng.percent(20) => inc.court_no.replace('(', "（").replace(')', "）"),
                _ => format!("({year})浙{}刑初{}号", &region[2..], 100 + p * 3 + n),
            };
            let mut c = json!({
                "ah": ah, "bgrzjhm": id, "bgrxm": name, "zm": charges, "xqlx": kind, "xqys": months,
                "pjrq": sxrq, "sxrq": sxrq, "xmjsrq": released, "fyqh": region,
            });
            if let Some((fw, nx)) = ban {
                c["cyjz"] = json!({"fw": fw, "nx": nx});
            }
            convictions.push(c.to_string());
        }
    }
    // A trade outside the five, and a conviction without its defendant's ID number.
    practitioners.entry("ylws").or_default().push(row(&[
        id_number(&mut rng, "330110"),
        "某某".into(),
        "餐饮服务".into(),
        "厨师".into(),
        String::new(),
        companies[0].1.clone(),
        companies[0].0.clone(),
        "在岗".into(),
        "330110".into(),
        "2023-01-01 10:00:00".into(),
    ]));
    convictions.push(
        json!({"ah": "(2020)浙0110刑初1号", "bgrxm": "无证号", "zm": ["盗窃罪"], "xqlx": "拘役", "sxrq": "2020-01-01"})
            .to_string(),
    );
    let head = row(&[
        "证件号码",
        "姓名",
        "行业",
        "岗位",
        "资格证书编号",
        "用人单位统一社会信用代码",
        "用人单位名称",
        "从业状态",
        "所属区划",
        "更新时间",
    ]
    .map(str::to_string));
    for (file_code, rows) in &practitioners {
        let text = format!("\u{feff}{head}\r\n{}\r\n", rows.join("\r\n"));
        files.push(write_file(
            &out.join("practitioners"),
            &format!("cyry_{file_code}_20230101.csv"),
            &text,
        )?);
    }
    files.push(write_file(
        &out.join("convictions"),
        "xspj_20230101.ndjson",
        &(convictions.join("\n") + "\n"),
    )?);
    let truth = json!({"asOf": AS_OF, "shell_company": truth_shells, "trade_access": truth_codes});
    std::fs::write(out.join("reference_truth.json"), serde_json::to_string_pretty(&truth)?)?;
    Ok(files)
}

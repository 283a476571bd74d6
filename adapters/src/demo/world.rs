//! The synthetic world: people, companies, officers and incidents that tie records
//! of several sources together through shared identifiers.

use super::rng::Rng;
use entities::ids::{credit_code, id_number};

pub const REGIONS: &[(&str, &str, &str)] = &[
    // code, name, a town in it
    ("330102", "上城区", "小营街道"),
    ("330105", "拱墅区", "米市巷街道"),
    ("330106", "西湖区", "灵隐街道"),
    ("330108", "滨江区", "西兴街道"),
    ("330109", "萧山区", "新塘街道"),
    ("330110", "余杭区", "仓前街道"),
    ("330111", "富阳区", "东洲街道"),
    ("330113", "临平区", "崇贤街道"),
    ("330182", "建德市", "新安江街道"),
    ("330702", "婺城区", "城东街道"),
    ("330703", "金东区", "多湖街道"),
    ("330726", "浦江县", "仙华街道"),
    ("330727", "磐安县", "尖山镇"),
    ("330782", "义乌市", "稠城街道"),
    ("330784", "永康市", "东城街道"),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭", "何", "高", "林",
    "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "建国",
    "志强", "海燕", "丽华", "晓东", "国庆", "文静",
];
const WORDS: &[&str] = &[
    "宏顺", "金鼎", "永昌", "天隆", "辰发", "华信", "中联", "恒泰", "瑞丰", "新宇", "博远", "嘉禾",
];
const TRADES: &[&str] = &[
    "科技",
    "劳务派遣",
    "建筑工程",
    "电子商务",
    "文化传媒",
    "医疗器械",
    "房地产开发",
    "物流",
];

/// One incident in this many happens in the troubled town (仓前街道, 余杭区) in January to
/// March 2023: at the demo's scale its governance index turns RED three months in a row, so the
/// warnings step from 提醒 to 督办 to 约谈 and open supervision tasks.
const TROUBLED_EVERY: u64 = 10;
const TROUBLED_REGION: usize = 5;
const TROUBLED_YEAR: u32 = 2023;

pub struct Person {
    pub name: String,
    pub id_number: String,
    pub phone: String,
}

pub struct Company {
    pub name: String,
    pub credit_code: String,
}

pub struct Officer {
    pub name: String,
    pub id_number: String,
    pub agency: String,
    pub agency_code: String,
    pub badge: String,
}

/// One real-world matter that several systems record.
pub struct Incident {
    pub region: usize,
    pub year: u32,
    pub month: u32,
    pub day: u32,
    pub police_no: String,
    pub court_no: String,
    pub proc_no: String,
    pub persons: Vec<usize>,
    pub company: Option<usize>,
    pub officer: usize,
}

pub struct World {
    pub people: Vec<Person>,
    pub companies: Vec<Company>,
    pub officers: Vec<Officer>,
    pub incidents: Vec<Incident>,
}

pub(super) fn id_number(rng: &mut Rng, region: &str) -> String {
    let year = 1950 + rng.below(55);
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    let body = format!("{region}{year:04}{month:02}{day:02}{:03}", rng.below(1000));
    let check = id_number::check_char(&body);
    format!("{body}{check}")
}

pub(super) fn credit_code(rng: &mut Rng, region: &str) -> String {
    const SET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut body = format!("91{region}MA");
    for _ in 0..7 {
        body.push(SET[rng.below(SET.len() as u64) as usize] as char);
    }
    let check = credit_code::check_char(&body).unwrap_or('0');
    format!("{body}{check}")
}

fn mobile(rng: &mut Rng) -> String {
    format!("1{}{:09}", 3 + rng.below(7), rng.below(1_000_000_000))
}

pub(super) fn person_name(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
}

impl World {
    /// A world whose incidents yield about `scale` records.
    pub fn generate(scale: u64, seed: u64) -> World {
        let mut rng = Rng::new(seed);
        // An incident yields about 2.75 records (every source but ENFORCEMENT is drawn by chance).
        let incidents_n = (scale * 100 / 275).max(1);
        // Most people and companies take part in one incident; some in a few (the chains).
        let people_n = (incidents_n * 2).max(4);
        let companies_n = (incidents_n * 2 / 3).max(2);
        let officers_n = (incidents_n / 2).max(2);
        // Identifiers are drawn at random: a repeat would make two people (or companies) one
        // party, and the world's truth would no longer be what it says, so repeats are drawn again.
        let mut drawn = std::collections::HashSet::new();
        let mut unique = |rng: &mut Rng, draw: &dyn Fn(&mut Rng) -> String| loop {
            let value = draw(rng);
            if drawn.insert(value.clone()) {
                return value;
            }
        };
        let people = (0..people_n)
            .map(|_| {
                let region = rng.pick(REGIONS).0;
                Person {
                    name: person_name(&mut rng),
                    id_number: unique(&mut rng, &|rng| id_number(rng, region)),
                    phone: mobile(&mut rng),
                }
            })
            .collect();
        let companies = (0..companies_n)
            .map(|i| {
                let (code, name, _) = *rng.pick(REGIONS);
                let city = if code.starts_with("3301") { "杭州" } else { "金华" };
                let _ = name;
                Company {
                    name: format!("{city}{}{}{}有限公司", rng.pick(WORDS), rng.pick(TRADES), i),
                    credit_code: unique(&mut rng, &|rng| credit_code(rng, code)),
                }
            })
            .collect();
        let officers = (0..officers_n)
            .map(|_| {
                let region = rng.below(REGIONS.len() as u64) as usize;
                let (code, name, _) = REGIONS[region];
                Officer {
                    name: person_name(&mut rng),
                    id_number: id_number(&mut rng, code),
                    agency: format!(
                        "{}公安局{}分局",
                        if code.starts_with("3301") {
                            "杭州市"
                        } else {
                            "金华市"
                        },
                        name.trim_end_matches(['区', '县', '市'])
                    ),
                    agency_code: format!("{code}540000"),
                    badge: format!("{:06}", rng.below(1_000_000)),
                }
            })
            .collect();
        let mut seq = [0u32; 64];
        let (mut next_person, mut next_company) = (0u64, 0u64);
        let incidents = (0..incidents_n)
            .map(|i| {
                let officer = rng.below(officers_n) as usize;
                let mut region = rng.below(REGIONS.len() as u64) as usize;
                let mut year = 2021 + rng.below(3) as u32;
                let mut month = 1 + rng.below(12) as u32;
                let day = 1 + rng.below(28) as u32;
                if i % TROUBLED_EVERY == TROUBLED_EVERY - 1 {
                    // The troubled town: its cases pile up in three months in a row.
                    (region, year) = (TROUBLED_REGION, TROUBLED_YEAR);
                    month = 1 + ((i / TROUBLED_EVERY) % 3) as u32;
                }
                let code = REGIONS[region].0;
                seq[region] += 1;
                let n = i + 1;
                let mut draw = |next: &mut u64, n: u64, reuse: u64| -> usize {
                    if *next >= n || rng.percent(reuse) {
                        rng.below(n.min((*next).max(1))) as usize
                    } else {
                        *next += 1;
                        (*next - 1) as usize
                    }
                };
                let persons: Vec<usize> = (0..1 + (i % 2)).map(|_| draw(&mut next_person, people_n, 10)).collect();
                let company = (i % 5 < 3).then(|| draw(&mut next_company, companies_n, 15));
                Incident {
                    region,
                    year,
                    month,
                    day,
                    police_no: format!("A{code}54{:04}{year}{month:02}{:04}", (n / 10_000) % 10_000, n % 10_000),
                    court_no: format!("({year})浙{}民初{n}号", &code[2..]),
                    proc_no: format!("杭{}检刑监〔{year}〕{n}号", ["余", "西", "萧", "滨"][region % 4]),
                    persons,
                    company,
                    officer,
                }
            })
            .collect();
        World {
            people,
            companies,
            officers,
            incidents,
        }
    }
}

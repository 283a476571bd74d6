//! Supervision models over the reference feeds (MODELS.md): the feeds load with exact counts
//! and quarantine; both models equal the demo world's truth file; a supervisor drives a
//! finding through the loop; exemption, re-raising and automatic resolution; scope; codes for
//! citizens and employers; findings follow the database and reach subscribers.

use gateway::auth::Role;
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

/// A valid credit code of region `region` ending in `tail` (7 characters of the code set).
fn uscc(region: &str, tail: &str) -> String {
    let body = format!("91{region}MA{tail}");
    let check = entities::ids::credit_code::check_char(&body).expect("a code body");
    format!("{body}{check}")
}

/// A valid ID number.
fn idn(region: &str, birth: &str, seq: u32) -> String {
    let body = format!("{region}{birth}{seq:03}");
    format!("{body}{}", entities::ids::id_number::check_char(&body))
}

const REGISTRY_HEAD: &str =
    "统一社会信用代码,企业名称,企业类型,法定代表人,法定代表人证件号码,成立日期,登记状态,注册地址,所属区划,经营范围,更新时间";

fn registry_row(code: &str, name: &str, established: &str, status: &str, region: &str, updated: &str) -> String {
    format!("{code},{name},有限责任公司,张三,,{established},{status},某地,{region},批发,{updated}")
}

const FINDINGS: &str = "query($m: ID!, $a: Date, $f: FindingFilter, $after: String) { findings(model: $m, asOf: $a, filter: $f, first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id level status rules trade asOf disposal departments subject { ... on Party { name creditCode idNumber } } evidence { kind id source file position } task { id department stage } history { fromStatus toStatus note } } } }";

/// The statuses a finding's history went through, in order.
fn statuses(f: &Value) -> Vec<&str> {
    f["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["toStatus"].as_str().unwrap())
        .collect()
}

/// Every finding of `model` (as of `as_of`), by subject key, following the pages.
async fn all_findings(app: &TestApp, token: &str, model: &str, as_of: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(token, FINDINGS, json!({"m": model, "a": as_of, "after": after}))
            .await;
        let page = &data["findings"];
        out.extend(page["nodes"].as_array().cloned().unwrap_or_default());
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

async fn run(app: &TestApp, token: &str, model: &str, as_of: Option<&str>) -> Value {
    app.data(
        token,
        "mutation($m: ID!, $a: Date) { runSupervisionModel(id: $m, asOf: $a) { model asOf automatic findingCount codeCount } }",
        json!({"m": model, "a": as_of}),
    )
    .await["runSupervisionModel"]
        .clone()
}

async fn the_feeds_load_with_exact_counts_and_quarantine(app: TestApp) {
    let a = uscc("330110", "0000001");
    let b = uscc("330110", "0000002");
    let registry = [
        REGISTRY_HEAD.to_string(),
        registry_row(
            &a,
            "杭州甲贸易有限公司",
            "2015-01-01",
            "存续",
            "330110",
            "2023-01-01 09:00:00",
        ),
        registry_row(
            &a,
            "杭州甲贸易有限公司",
            "2015-01-01",
            "在业",
            "330110",
            "2023-01-02 09:00:00",
        ),
        registry_row(
            "91330110MA00000010",
            "坏码",
            "2015-01-01",
            "存续",
            "330110",
            "2023-01-01 09:00:00",
        ),
        registry_row(&b, "杭州乙贸易有限公司", "2015-01-01", "存续", "339999", ""),
        registry_row(
            &b,
            "杭州乙贸易有限公司",
            "2015/01/01",
            "存续",
            "339999",
            "2023-01-01 10:00:00",
        ),
    ]
    .join("\n");
    let report = app.ingest("registry", "scztdj_20230101.csv", registry.clone()).await;
    assert_eq!(
        (
            &report["read"],
            &report["inserted"],
            &report["unchanged"],
            &report["quarantined"]
        ),
        (&json!(5), &json!(2), &json!(1), &json!(2)),
        "{report}"
    );
    let reasons: Vec<&str> = report["quarantine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["missing_key", "missing_version"]);
    // An unknown region keeps the row, with a data-quality issue.
    assert!(report["warnings"].to_string().contains("data-quality"), "{report}");
    let again = app.ingest("registry", "scztdj_20230101.csv", registry).await;
    assert_eq!(
        (&again["inserted"], &again["unchanged"]),
        (&json!(0), &json!(3)),
        "{again}"
    );

    // Insurance: the correction `_2` arrives first; the base file cannot undo it.
    let head = "统一社会信用代码,单位名称,费款所属期,参保人数,实缴金额";
    let second = format!("{head}\n{a},甲,202303,0,0.00\n");
    let first = format!(
        "{head}\n{a},甲,2023-03,5,100.00\n{b},乙,202303,2,10.00\n{a},甲,2023-13,1,1.00\n{b},乙,202304,-1,1.00\n"
    );
    let r2 = app.ingest("insurance", "sbjf_202303_2.csv", second).await;
    assert_eq!(r2["inserted"], 1, "{r2}");
    let r1 = app.ingest("insurance", "sbjf_202303.csv", first).await;
    assert_eq!(
        (&r1["inserted"], &r1["unchanged"], &r1["quarantined"]),
        (&json!(1), &json!(1), &json!(2)),
        "{r1}"
    );
    let reasons: Vec<&str> = r1["quarantine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["missing_key", "invalid_value"]);
    let stored: Vec<entities::insurance_row::Model> = {
        use sea_orm::EntityTrait;
        entities::insurance_row::Entity::find().all(&app.db).await.unwrap()
    };
    let a_march = stored.iter().find(|r| r.credit_code == a).unwrap();
    assert_eq!((a_march.insured, a_march.version.as_str()), (0, "0000000002"));

    // Tax: a later declaration replaces an earlier one; negative amounts are refused.
    let tax = format!(
        "{}\n{}\n{}\n",
        json!({"nsrsbh": a, "nsrmc": "甲", "sssq": "2023-03", "ynse": "5.00", "sjse": "5.00", "sbrq": "2023-04-20"}),
        json!({"nsrsbh": a, "nsrmc": "甲", "sssq": "202303", "ynse": "5.00", "sjse": "0.00", "sbrq": "2023-04-10"}),
        json!({"nsrsbh": b, "nsrmc": "乙", "sssq": "2023-03", "ynse": "5.00", "sjse": "-5.00", "sbrq": "2023-04-10"}),
    );
    let rt = app.ingest("tax", "nsxx_202303.ndjson", tax).await;
    assert_eq!(
        (&rt["inserted"], &rt["unchanged"], &rt["quarantined"]),
        (&json!(1), &json!(1), &json!(1)),
        "{rt}"
    );

    // Practitioners: a file without its BOM reads all the same; a sixth trade is refused.
    let person = idn("330110", "19800101", 11);
    let practitioners = format!(
        "证件号码,姓名,行业,岗位,资格证书编号,用人单位统一社会信用代码,用人单位名称,从业状态,所属区划,更新时间\r\n\
         {person},李四,医疗卫生,执业医师,,{a},甲,在岗,330110,2023-01-01 10:00:00\r\n\
         {person},李四,餐饮服务,厨师,,{a},甲,在岗,330110,2023-01-01 10:00:00\r\n"
    );
    let rp = app
        .ingest("practitioners", "cyry_ylws_20230101.csv", practitioners)
        .await;
    assert_eq!((&rp["inserted"], &rp["quarantined"]), (&json!(1), &json!(1)), "{rp}");
    assert_eq!(rp["quarantine"][0]["reason"], "invalid_value");

    // Convictions: without the defendant's ID number, quarantined.
    let convictions = format!(
        "{}\n{}\n",
        json!({"ah": "（2021）浙0110刑初456号", "bgrzjhm": person, "bgrxm": "李四", "zm": ["诈骗罪"], "xqlx": "有期徒刑", "xqys": 12, "pjrq": "2021-06-01", "sxrq": "2021-06-12", "xmjsrq": "2022-06-12", "fyqh": "330110"}),
        json!({"ah": "(2021)浙0110刑初457号", "bgrxm": "无号", "zm": ["盗窃罪"], "xqlx": "拘役", "sxrq": "2021-06-12"}),
    );
    let rc = app.ingest("convictions", "xspj_20210612.ndjson", convictions).await;
    assert_eq!((&rc["inserted"], &rc["quarantined"]), (&json!(1), &json!(1)), "{rc}");
    assert_eq!(rc["quarantine"][0]["reason"], "missing_key");

    // A file that does not decode is rejected whole, naming why.
    let response = reqwest::Client::new()
        .post(app.url("/ingest/tax"))
        .bearer_auth(app.token(Role::Admin, &[]))
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(body["rejected"].as_str().unwrap().contains("UTF-8"), "{body}");

    // The quarantine names the feed.
    let admin = app.token(Role::Admin, &[]);
    let q = app
        .data(&admin, "{ quarantine(first: 50) { nodes { feed reason } } }", json!({}))
        .await;
    assert!(q.to_string().contains("\"feed\":\"convictions\""), "{q}");

    // A party named by a case and by a reference row is one party: its facts show on it.
    let case = json!({"JDBH": "ZFJD-T-1", "BBH": 1, "AJMC": "甲公司案", "XZQH": "330110", "JDZT": "发现",
        "DSR": [{"XM": "李四", "ZJLX": "居民身份证", "ZJHM": person, "JS": "当事人"},
                {"XM": "杭州甲贸易有限公司", "ZJLX": "统一社会信用代码", "ZJHM": a, "JS": "单位"}],
        "WTMS": "关联（2021）浙0110刑初456号"});
    app.ingest("enforcement", "zfjd_t.ndjson", format!("{case}\n")).await;
    let facts = "{ caseBySourceKey(source: ENFORCEMENT, sourceKey: \"ZFJD-T-1\") { convictions { caseNumber charges } parties { party { registration { status establishedOn } practices { trade post } convictions { charges penalty } } } } }";
    let plc = app.token(Role::Plc, &["3301"]);
    let data = app.data(&plc, facts, json!({})).await;
    let text = data.to_string();
    assert!(
        text.contains("\"在业\"") && text.contains("\"MEDICAL\"") && text.contains("诈骗罪"),
        "{text}"
    );
    assert_eq!(
        data["caseBySourceKey"]["convictions"][0]["caseNumber"],
        "(2021)浙0110刑初456号"
    );
    // congress does not read convictions: FORBIDDEN there, the rest still comes.
    let congress = app.token(Role::Congress, &["3301"]);
    let (_, body) = app.graphql(&congress, facts, json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(body.to_string().contains("\"在业\""), "{body}");
}

async fn both_models_equal_the_demo_truth(app: TestApp) {
    let dir = std::env::temp_dir().join(format!("qc-models-{}-{}", std::process::id(), app.addr.port()));
    let reports = hub::demo::load_generated_world(&app.db, &dir, 3_000, 5).await.unwrap();
    let quarantined: u64 = reports
        .iter()
        .filter(|r| {
            ["scztdj", "sbjf", "nsxx", "cyry", "xspj"]
                .iter()
                .any(|p| r.file.starts_with(p))
        })
        .map(|r| r.quarantined)
        .sum();
    assert_eq!(quarantined, 5, "the demo's five bad reference rows");
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference_truth.json")).unwrap()).unwrap();
    let as_of = truth["asOf"].as_str().unwrap().to_string();
    let admin = app.token(Role::Admin, &[]);
    let shells = run(&app, &admin, "shell_company", Some(&as_of)).await;
    assert_eq!(shells["automatic"], false);
    let found: serde_json::Map<String, Value> = all_findings(&app, &admin, "shell_company", Some(&as_of))
        .await
        .into_iter()
        .map(|f| {
            (
                f["subject"]["creditCode"].as_str().unwrap().to_string(),
                f["level"].clone(),
            )
        })
        .collect();
    assert_eq!(Value::Object(found), truth["shell_company"]);
    assert!(
        truth["shell_company"].to_string().contains("HIGH") && truth["shell_company"].to_string().contains("MEDIUM")
    );

    run(&app, &admin, "trade_access", Some(&as_of)).await;
    let found: serde_json::Map<String, Value> = all_findings(&app, &admin, "trade_access", Some(&as_of))
        .await
        .into_iter()
        .map(|f| {
            let key = format!(
                "{}|{}",
                f["subject"]["idNumber"].as_str().unwrap(),
                f["trade"].as_str().unwrap()
            );
            (key, f["level"].clone())
        })
        .collect();
    let expected: serde_json::Map<String, Value> = truth["trade_access"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, c)| *c != "BLUE")
        .map(|(k, c)| (k.clone(), c.clone()))
        .collect();
    assert_eq!(found, expected);
    // Every code, BLUE included.
    let mut codes = serde_json::Map::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                &admin,
                "query($a: Date, $after: String) { practitionerCodes(asOf: $a, first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { idNumber trade color } } }",
                json!({"a": as_of, "after": after}),
            )
            .await;
        let page = &data["practitionerCodes"];
        for n in page["nodes"].as_array().unwrap() {
            codes.insert(
                format!("{}|{}", n["idNumber"].as_str().unwrap(), n["trade"].as_str().unwrap()),
                n["color"].clone(),
            );
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(Value::Object(codes), truth["trade_access"]);
    // The same data and asOf give the same findings.
    let again = run(&app, &admin, "shell_company", Some(&as_of)).await;
    assert_eq!(again["findingCount"], shells["findingCount"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A shell company named by a live case, with the case loaded.
async fn a_named_shell(app: &TestApp, tail: &str, status: &str, updated: &str) -> String {
    let company = uscc("330110", tail);
    let registry = format!(
        "{REGISTRY_HEAD}\n{}\n",
        registry_row(
            &company,
            &format!("杭州{tail}贸易有限公司"),
            "2015-01-01",
            status,
            "330110",
            updated
        )
    );
    app.ingest(
        "registry",
        &format!("scztdj_{tail}_{}.csv", updated.replace([' ', ':', '-'], "")),
        registry,
    )
    .await;
    let case = json!({"JDBH": format!("ZFJD-{tail}"), "BBH": 1, "AJMC": "诈骗案", "XZQH": "330110", "JDZT": "发现",
        "DSR": [{"XM": format!("杭州{tail}贸易有限公司"), "ZJLX": "统一社会信用代码", "ZJHM": company, "JS": "单位"}]});
    app.ingest("enforcement", &format!("zfjd_{tail}.ndjson"), format!("{case}\n"))
        .await;
    company
}

async fn a_supervisor_drives_a_high_finding_through_the_loop(app: TestApp) {
    let company = a_named_shell(&app, "0000101", "存续", "2023-01-01 09:00:00").await;
    let plc = app.token(Role::Plc, &["330110"]);
    let ran = run(&app, &plc, "shell_company", None).await;
    assert_eq!(
        (ran["automatic"].clone(), ran["findingCount"].clone()),
        (json!(true), json!(1))
    );
    let f = &all_findings(&app, &plc, "shell_company", None).await[0];
    assert_eq!((f["level"].as_str(), f["status"].as_str()), (Some("HIGH"), Some("NEW")));
    assert_eq!(f["rules"], json!(["no_insurance", "no_tax", "in_cases"]));
    assert_eq!(f["subject"]["creditCode"], company);
    assert_eq!(f["departments"], json!(["余杭区市场监督管理局"]));
    let kinds: Vec<&str> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["REGISTRY", "CASE"]);
    assert!(
        f["evidence"][0]["file"].as_str().unwrap().starts_with("scztdj_")
            && f["evidence"][0]["position"] == "line 2, row 1"
    );
    let id = f["id"].as_str().unwrap().to_string();

    let opened = app
        .data(
            &plc,
            "mutation($id: ID!) { openFindingTask(id: $id) { status task { id department stage } } }",
            json!({"id": id}),
        )
        .await["openFindingTask"]
        .clone();
    assert_eq!(opened["status"], "TASKED");
    assert_eq!(opened["task"]["department"], "余杭区市场监督管理局");
    let task = opened["task"]["id"].as_str().unwrap().to_string();
    let agency = app.agency_token("余杭区市场监督管理局");
    app.data(
        &agency,
        "mutation($id: ID!) { answerSupervisionTask(id: $id, note: \"已约谈法定代表人并责令整改\") { stage } }",
        json!({"id": task}),
    )
    .await;
    app.data(
        &plc,
        "mutation($id: ID!) { revisitSupervisionTask(id: $id) { stage } }",
        json!({"id": task}),
    )
    .await;
    // A finding's task is closed with a disposal of the model.
    let close = "mutation($id: ID!, $d: String) { closeSupervisionTask(id: $id, disposal: $d) { stage } }";
    let (_, body) = app.graphql(&plc, close, json!({"id": task})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let (_, body) = app.graphql(&plc, close, json!({"id": task, "d": "核实无误"})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "a trade_access disposal: {body}");
    app.data(&plc, close, json!({"id": task, "d": "已责令整改"})).await;
    let f = &all_findings(&app, &plc, "shell_company", None).await[0];
    assert_eq!(
        (f["status"].as_str(), f["disposal"].as_str()),
        (Some("RESOLVED"), Some("已责令整改"))
    );
    assert_eq!(statuses(f), ["NEW", "TASKED", "RESOLVED"]);

    // Still a shell at the next automatic run: raised again.
    run(&app, &plc, "shell_company", None).await;
    let f = &all_findings(&app, &plc, "shell_company", None).await[0];
    assert_eq!(f["status"], "NEW");

    // Exempt: not raised again while the evidence stays the same …
    let (_, body) = app
        .graphql(
            &plc,
            "mutation($id: ID!) { exemptFinding(id: $id, reason: \" \") { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    app.data(
        &plc,
        "mutation($id: ID!) { exemptFinding(id: $id, reason: \"系新设研发主体\") { status } }",
        json!({"id": id}),
    )
    .await;
    run(&app, &plc, "shell_company", None).await;
    assert_eq!(
        all_findings(&app, &plc, "shell_company", None).await[0]["status"],
        "EXEMPT"
    );
    // … and raised again when it changes (a zero declaration in the window is new evidence).
    let month = (chrono::Utc::now() - chrono::Duration::days(40))
        .format("%Y-%m")
        .to_string();
    let zero = json!({"nsrsbh": company, "nsrmc": "x", "sssq": month, "ynse": "0.00", "sjse": "0.00", "sbrq": format!("{month}-15")});
    app.ingest("tax", "nsxx_zero.ndjson", format!("{zero}\n")).await;
    run(&app, &plc, "shell_company", None).await;
    let f = &all_findings(&app, &plc, "shell_company", None).await[0];
    assert_eq!(f["status"], "NEW");
    assert!(f["evidence"].to_string().contains("\"TAX\""));

    // The company is deregistered: its open finding resolves by itself, its task closes.
    app.data(
        &plc,
        "mutation($id: ID!) { openFindingTask(id: $id) { status } }",
        json!({"id": id}),
    )
    .await;
    let registry = format!(
        "{REGISTRY_HEAD}\n{}\n",
        registry_row(
            &company,
            "杭州0000101贸易有限公司",
            "2015-01-01",
            "注销",
            "330110",
            "2023-06-01 09:00:00"
        )
    );
    app.ingest("registry", "scztdj_20230601.csv", registry).await;
    run(&app, &plc, "shell_company", None).await;
    let f = &all_findings(&app, &plc, "shell_company", None).await[0];
    assert_eq!(
        (f["status"].as_str(), f["disposal"].as_str()),
        (Some("RESOLVED"), Some("已注销"))
    );
    let tasks = app
        .data(&plc, "{ supervisionTasks(first: 10) { nodes { stage } } }", json!({}))
        .await;
    assert!(tasks.to_string().matches("CLOSED").count() >= 2, "{tasks}");
}

async fn findings_are_scoped_masked_and_counted(app: TestApp) {
    let company = a_named_shell(&app, "0000201", "存续", "2023-01-01 09:00:00").await;
    // A second shell, in Jinhua, named only in the text of a DISCIPLINE clue.
    let other = uscc("330782", "0000202");
    let registry = format!(
        "{REGISTRY_HEAD}\n{}\n",
        registry_row(
            &other,
            "义乌丙商贸有限公司",
            "2015-01-01",
            "存续",
            "330782",
            "2023-01-01 09:00:00"
        )
    );
    app.ingest("registry", "scztdj_jh.csv", registry).await;
    let clue = format!(
        "{}\r\n义纪线〔2023〕1号,1,王五,,义乌市某局,科长,正科级,中共党员,反映其为义乌丙商贸有限公司违规办理资质。,违规经商,信访举报,初步核实,2023-03-01,,,,0,,第一室,义乌市\r\n",
        adapters::discipline::COLUMNS.join(",")
    );
    let report = hub::ingest::ingest_file(
        &app.db,
        entities::Source::Discipline,
        "jjjc_1.csv",
        &encoding_rs::GB18030.encode(&clue).0,
    )
    .await
    .unwrap();
    assert_eq!(report.inserted, 1, "{report:?}");
    let admin = app.token(Role::Admin, &[]);
    run(&app, &admin, "shell_company", None).await;
    let all = all_findings(&app, &admin, "shell_company", None).await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|f| f["level"] == "HIGH"), "{all:?}");

    // Regions: a Hangzhou viewer sees the Hangzhou finding only.
    let plc = app.token(Role::Plc, &["3301"]);
    let seen = all_findings(&app, &plc, "shell_company", None).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["subject"]["creditCode"], company);
    // The determination is the same for every viewer; the evidence is what the viewer may
    // read: plc does not read DISCIPLINE, so the Jinhua finding shows no case to it.
    let plc_jh = app.token(Role::Plc, &["330782"]);
    let f = &all_findings(&app, &plc_jh, "shell_company", None).await[0];
    assert_eq!(f["level"], "HIGH");
    assert!(f["rules"].to_string().contains("in_cases"));
    assert!(!f["evidence"].to_string().contains("\"CASE\""), "{f}");
    let discipline = app.token(Role::Discipline, &["330782"]);
    let f = &all_findings(&app, &discipline, "shell_company", None).await[0];
    assert!(f["evidence"].to_string().contains("DISCIPLINE"), "{f}");

    // agency: its department's findings only; analyst: counts; others: nothing.
    let agency = app.agency_token("余杭区市场监督管理局");
    assert_eq!(all_findings(&app, &agency, "shell_company", None).await.len(), 1);
    let other_agency = app.agency_token("余杭区卫生健康局");
    assert!(all_findings(&app, &other_agency, "shell_company", None)
        .await
        .is_empty());
    let analyst = app.token(Role::Analyst, &["33"]);
    let (_, body) = app.graphql(&analyst, FINDINGS, json!({"m": "shell_company"})).await;
    assert_eq!(code(&body), "FORBIDDEN");
    let stats = app
        .data(
            &analyst,
            "{ findingStats(model: \"shell_company\") { level region count suppressed } }",
            json!({}),
        )
        .await;
    assert!(
        stats["findingStats"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["suppressed"] == true && b["count"].is_null()),
        "{stats}"
    );
    for role in [Role::Inspector, Role::Citizen, Role::Employer, Role::Auditor] {
        let (_, body) = app
            .graphql(&app.token(role, &["33"]), FINDINGS, json!({"m": "shell_company"}))
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{role}: {body}");
    }
    // congress: shell companies in its regions; nothing of trade_access.
    let congress = app.token(Role::Congress, &["3301"]);
    assert_eq!(all_findings(&app, &congress, "shell_company", None).await.len(), 1);
    assert!(all_findings(&app, &congress, "trade_access", None).await.is_empty());
    // Unknown model, asOf in the future.
    let (_, body) = app.graphql(&admin, FINDINGS, json!({"m": "nope"})).await;
    assert_eq!(code(&body), "NOT_FOUND");
    let (_, body) = app
        .graphql(&admin, FINDINGS, json!({"m": "shell_company", "a": "2999-01-01"}))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    // Reads of findings are audited with their subject.
    let audit = app
        .data(&admin, "{ auditLog(first: 100) { nodes { sub partyIds } } }", json!({}))
        .await;
    assert!(audit.to_string().contains("test-plc"), "{audit}");
}

/// A practitioner with a recent conviction, in post in MEDICAL in 余杭区.
async fn a_practitioner(app: &TestApp, person: &str) {
    let employer = uscc("330110", "0000301");
    let rows = format!(
        "\u{feff}证件号码,姓名,行业,岗位,资格证书编号,用人单位统一社会信用代码,用人单位名称,从业状态,所属区划,更新时间\r\n\
         {person},赵六,医疗卫生,护士,,{employer},余杭某医院,在岗,330110,2023-01-01 10:00:00\r\n"
    );
    app.ingest("practitioners", "cyry_ylws_20230101.csv", rows).await;
    let released = (chrono::Utc::now() - chrono::Duration::days(200))
        .format("%Y-%m-%d")
        .to_string();
    let conviction = json!({"ah": "(2020)浙0110刑初9号", "bgrzjhm": person, "bgrxm": "赵六", "zm": ["盗窃罪"], "xqlx": "有期徒刑", "xqys": 12, "pjrq": "2020-01-01", "sxrq": "2020-01-10", "xmjsrq": released, "fyqh": "330110"});
    app.ingest("convictions", "xspj_1.ndjson", format!("{conviction}\n"))
        .await;
}

async fn citizens_see_their_own_code_and_employers_verify_one(app: TestApp) {
    let person = idn("330110", "19850307", 123);
    a_practitioner(&app, &person).await;
    let citizen = app.identity_token(Role::Citizen, "citizen-1", Some(&person), None);
    let own = app
        .data(
            &citizen,
            "{ myPractitionerCode { trade color rule rules appealTo computedAt } }",
            json!({}),
        )
        .await;
    let code_ = &own["myPractitionerCode"][0];
    assert_eq!(
        (code_["trade"].as_str(), code_["color"].as_str()),
        (Some("MEDICAL"), Some("RED"))
    );
    assert_eq!(code_["appealTo"], "余杭区卫生健康局");
    assert!(
        !own.to_string().contains("盗窃"),
        "the rule's name, never the judgment: {own}"
    );
    // Someone without practices has no codes; a citizen cannot ask about anyone else.
    let stranger = app.identity_token(Role::Citizen, "citizen-2", Some(&idn("330110", "19900101", 1)), None);
    assert_eq!(
        app.data(&stranger, "{ myPractitionerCode { color } }", json!({})).await["myPractitionerCode"],
        json!([])
    );
    let verify =
        "query($i: String!, $t: Trade!) { verifyPractitionerCode(idNumber: $i, trade: $t) { color computedAt } }";
    let (_, body) = app
        .graphql(&citizen, verify, json!({"i": person, "t": "MEDICAL"}))
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
    let (_, body) = app
        .graphql(
            &citizen,
            "query($i: String) { practitionerCodes(filter: {idNumber: $i}) { nodes { color } } }",
            json!({"i": person}),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
    // A citizen token without a valid `idn` is no token.
    let mut forged = person.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '1' { '2' } else { '1' });
    let (status, _) = app
        .graphql(
            &app.identity_token(Role::Citizen, "c", Some(&forged), None),
            "{ myPractitionerCode { color } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 401);

    // The employer: the colour only, for anyone, as if in post in that trade.
    let employer = app.identity_token(Role::Employer, "hr-1", None, Some(&uscc("330110", "0000399")));
    let check = app
        .data(&employer, verify, json!({"i": person, "t": "ELDERLY_CARE"}))
        .await;
    assert_eq!(check["verifyPractitionerCode"]["color"], "YELLOW");
    assert_eq!(check["verifyPractitionerCode"].as_object().unwrap().len(), 2);
    let check = app.data(&employer, verify, json!({"i": person, "t": "MEDICAL"})).await;
    assert_eq!(check["verifyPractitionerCode"]["color"], "RED");
    let (_, body) = app
        .graphql(&employer, verify, json!({"i": "12345", "t": "MEDICAL"}))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    let (_, body) = app
        .graphql(&employer, "{ myPractitionerCode { color } }", json!({}))
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
    // Every look-up is recorded with the employer and the person.
    use sea_orm::EntityTrait;
    let lookups = entities::code_lookup::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(lookups.len(), 2);
    assert!(lookups
        .iter()
        .all(|l| l.employer == uscc("330110", "0000399") && l.id_number == person && l.sub == "hr-1"));

    // Regulators list codes of their trade in their regions.
    let plc = app.token(Role::Plc, &["330110"]);
    run(&app, &plc, "trade_access", None).await;
    let codes = "{ practitionerCodes(first: 10) { nodes { idNumber trade color rules employers { creditCode name } departments } } }";
    let health = app.unit_token(Role::Agency, "余杭区卫生健康局", &["330110"]);
    let listed = app.data(&health, codes, json!({})).await;
    assert_eq!(listed["practitionerCodes"]["nodes"][0]["color"], "RED");
    assert_eq!(
        listed["practitionerCodes"]["nodes"][0]["employers"][0]["name"],
        "余杭某医院"
    );
    let market = app.unit_token(Role::Agency, "余杭区市场监督管理局", &["330110"]);
    assert_eq!(
        app.data(&market, codes, json!({})).await["practitionerCodes"]["nodes"],
        json!([])
    );
    let (_, body) = app.graphql(&app.token(Role::Congress, &["33"]), codes, json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN");
    // The RED finding opened its task on the regulator by itself.
    let f = &all_findings(&app, &plc, "trade_access", None).await[0];
    assert_eq!(
        (f["level"].as_str(), f["status"].as_str()),
        (Some("RED"), Some("TASKED"))
    );
    assert_eq!(f["task"]["department"], "余杭区卫生健康局");
    assert_eq!(f["task"]["stage"], "NOTIFIED");
    assert_eq!(statuses(f), ["NEW", "TASKED"], "{f}");
    // Conviction rows show as evidence to plc, not to the regulator.
    assert!(f["evidence"].to_string().contains("CONVICTIONS"));
    let seen = &all_findings(&app, &health, "trade_access", None).await[0];
    assert_eq!(seen["rules"], f["rules"]);
    assert!(!seen["evidence"].to_string().contains("CONVICTIONS"), "{seen}");
}

on_both_databases!(
    the_feeds_load_with_exact_counts_and_quarantine,
    both_models_equal_the_demo_truth,
    a_supervisor_drives_a_high_finding_through_the_loop,
    findings_are_scoped_masked_and_counted,
    citizens_see_their_own_code_and_employers_verify_one,
);

/// The employer's daily limit, counted in the database.
async fn employers_are_limited_per_day(app: TestApp) {
    let person = idn("330110", "19850307", 123);
    a_practitioner(&app, &person).await;
    let employer = app.identity_token(Role::Employer, "hr", None, Some(&uscc("330110", "0000399")));
    let verify = "query($i: String!) { verifyPractitionerCode(idNumber: $i, trade: MEDICAL) { color } }";
    for _ in 0..2 {
        app.data(&employer, verify, json!({"i": person})).await;
    }
    let (_, body) = app.graphql(&employer, verify, json!({"i": person})).await;
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body}");
    // Another employer has its own count.
    let other = app.identity_token(Role::Employer, "hr2", None, Some(&uscc("330110", "0000398")));
    app.data(&other, verify, json!({"i": person})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employers_are_limited_per_day_on_sqlite() {
    employers_are_limited_per_day(TestApp::sqlite_with(|c| c.employer_daily_lookups = 2).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employers_are_limited_per_day_on_postgres() {
    if let Some(app) = TestApp::postgres_with(|c| c.employer_daily_lookups = 2).await {
        employers_are_limited_per_day(app).await
    }
}

/// Findings follow the database, whoever writes it, and reach subscribers in scope.
async fn findings_follow_the_database_and_reach_subscribers(app: TestApp) {
    let plc = app.token(Role::Plc, &["330110"]);
    let mut ws = app.ws(&plc).await;
    ws.subscribe(
        "f",
        "subscription { findingRaised(model: \"shell_company\") { level subject { ... on Party { creditCode } } } }",
        json!({}),
    )
    .await;
    let mut elsewhere = app.ws(&app.token(Role::Plc, &["3307"])).await;
    elsewhere
        .subscribe("f", "subscription { findingRaised { level } }", json!({}))
        .await;
    app.wait_subscriptions(2).await;
    // Written straight into the database, as another process would.
    let company = uscc("330110", "0000501");
    let registry = format!(
        "{REGISTRY_HEAD}\n{}\n",
        registry_row(
            &company,
            "杭州戊贸易有限公司",
            "2015-01-01",
            "存续",
            "330110",
            "2023-01-01 09:00:00"
        )
    );
    hub::reference::load_file(&app.db, entities::Feed::Registry, "scztdj_x.csv", registry.as_bytes())
        .await
        .unwrap();
    let message = ws
        .next_within(std::time::Duration::from_secs(20))
        .await
        .expect("a finding within the refresh period");
    assert_eq!(
        message["payload"]["data"]["findingRaised"]["subject"]["creditCode"], company,
        "{message}"
    );
    assert_eq!(message["payload"]["data"]["findingRaised"]["level"], "MEDIUM");
    assert!(
        elsewhere.next_within(std::time::Duration::from_secs(2)).await.is_none(),
        "out of scope"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_follow_the_database_and_reach_subscribers_on_sqlite() {
    findings_follow_the_database_and_reach_subscribers(TestApp::sqlite_with(|c| c.model_refresh_seconds = 1).await)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_follow_the_database_and_reach_subscribers_on_postgres() {
    if let Some(app) = TestApp::postgres_with(|c| c.model_refresh_seconds = 1).await {
        findings_follow_the_database_and_reach_subscribers(app).await
    }
}

#[tokio::test]
async fn a_declaration_with_an_unknown_parameter_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("qc-models-decl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("models.toml");
    std::fs::write(
        &path,
        hub::models::declarations::SHIPPED.replace("min_age_months = 6", "min_age_month = 6"),
    )
    .unwrap();
    let config = gateway::config::Config {
        models: Some(path.clone()),
        jwt_secret: Some(gateway::config::Secret::new(
            "a-secret-long-enough-for-hs256-signing-0123456789",
        )),
        ..Default::default()
    };
    let error = config.validate_for_serve().unwrap_err().to_string();
    assert!(error.contains("min_age_month") && error.contains("line "), "{error}");
    std::fs::write(
        &path,
        hub::models::declarations::SHIPPED.replace("\"市场监督管理局\" }", "\"税务局\" }"),
    )
    .unwrap();
    let error = config.supervision_models().unwrap_err().to_string();
    assert!(error.contains("税务局"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

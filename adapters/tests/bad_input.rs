//! Every "Bad input to expect" item of the interface documents, on small snippets.

use adapters::{parse, AdapterError, Item, Parsed};
use entities::{LinkKind, Source};

fn records(p: &Parsed) -> Vec<&adapters::UnifiedRecord> {
    p.items
        .iter()
        .filter_map(|i| {
            if let Item::Record(r) = i {
                Some(r.as_ref())
            } else {
                None
            }
        })
        .collect()
}

fn reasons(p: &Parsed) -> Vec<(String, &'static str)> {
    p.items
        .iter()
        .filter_map(|i| {
            if let Item::Quarantined(q) = i {
                Some((q.position.to_string(), q.reason))
            } else {
                None
            }
        })
        .collect()
}

const GOOD_ID: &str = "11010519491231002X";

#[test]
fn enforcement_quarantines_structural_errors_and_keeps_value_errors() {
    let text = format!(
        "{{\"JDBH\":\"ZFJD-1\",\"BBH\":\"2\",\"DSR\":{{\"XM\":\"李四\",\"ZJHM\":\"{GOOD_ID}\",\"JS\":\"犯罪嫌疑人\"}},\"JDZT\":\"挂起\",\"XZQH\":\"330110\"}}\r\n\
         \r\n\
         not json\n\
         {{\"BBH\":1}}\n\
         {{\"JDBH\":\"ZFJD-2\"}}\n\
         {{\"JDBH\":\"ZFJD-3\",\"BBH\":1,\"DSR\":[{{\"XM\":\"王五\",\"ZJLX\":\"居民身份证\",\"ZJHM\":\"110105194912310021\"}}],\"FXRQ\":\"20220901\"}}\n\
         {{\"JDBH\":\"ZFJD-4\",\"BBH\":1"
    );
    let p = parse(Source::Enforcement, "zfjd.ndjson", text.as_bytes()).unwrap();
    assert_eq!(
        reasons(&p),
        vec![
            ("line 3".to_string(), "invalid_json"),
            ("line 4".to_string(), "missing_key"),
            ("line 5".to_string(), "missing_version"),
            ("line 7".to_string(), "invalid_json"),
        ]
    );
    let rs = records(&p);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].version, Some(2), "BBH as a string is accepted");
    assert_eq!(
        rs[0].parties[0].id_number.as_ref().map(|i| i.as_str()),
        Some(GOOD_ID),
        "DSR as one object; ZJLX missing but the number validates"
    );
    assert_eq!(
        (rs[0].status.as_deref(), rs[0].stage),
        (Some("挂起"), None),
        "unknown JDZT: raw label kept, stage unknown"
    );
    assert_eq!(rs[1].parties[0].id_number, None, "a bad checksum is no key");
    assert!(rs[1].issues.iter().any(|i| i.issue == "bad_checksum"));
    assert_eq!(rs[1].opened_on, chrono::NaiveDate::from_ymd_opt(2022, 9, 1));
}

fn gb18030(text: &str) -> Vec<u8> {
    encoding_rs::GB18030.encode(text).0.into_owned()
}

#[test]
fn discipline_maps_by_header_and_quarantines_wrong_field_counts() {
    let text = "所属地区,线索编号,被反映人,身份证号,问题线索,处分结果,受理日期,涉案金额（万元）,关联案号,备注\r\n\
        余杭区,余纪线[2022] 456号,陈建国,110105491231002,\"反映其在“磐检行监〔2021〕29号”中，\r\n多次违规\",移送检察机关,2022年9月27日,\"1,234.5\",(2022)浙0110民初1234号；A3301105400002022090001,x\r\n\
        海曙区,余纪线〔2022〕457号,张三,,反映,,2022年13月1日,,,\r\n\
        余杭区,余纪线〔2022〕458号,too,few\r\n";
    let p = parse(Source::Discipline, "jjjc.csv", &gb18030(text)).unwrap();
    assert_eq!(reasons(&p), vec![("line 5, row 3".to_string(), "wrong_field_count")]);
    assert_eq!(p.warnings, vec!["unknown columns ignored: 备注".to_string()]);
    let rs = records(&p);
    assert_eq!(rs[0].source_key, "余纪线〔2022〕456号", "the clue number is normalized");
    assert_eq!(rs[0].version, Some(1));
    assert!(rs[0].transferred);
    assert_eq!(rs[0].region_code.as_deref(), Some("330110"));
    assert_eq!(
        rs[0].parties[0].id_number.as_ref().map(|i| i.as_str()),
        Some(GOOD_ID),
        "legacy 15-digit numbers convert"
    );
    assert!(rs[0].case_numbers.contains(&"(2022)浙0110民初1234号".to_string()));
    assert!(rs[0].case_numbers.contains(&"A3301105400002022090001".to_string()));
    assert!(
        rs[0].case_numbers.contains(&"磐检行监〔2021〕29号".to_string()),
        "{:?}",
        rs[0].case_numbers
    );
    assert!(
        rs[0].issues.is_empty(),
        "an amount with a thousands separator is fine: {:?}",
        rs[0].issues
    );
    assert_eq!(rs[1].region_code, None);
    let codes: Vec<&str> = rs[1].issues.iter().map(|i| i.issue.as_str()).collect();
    assert_eq!(codes, vec!["unknown_region", "bad_date"]);
}

#[test]
fn discipline_rejects_a_utf8_file_and_says_so() {
    let text = "线索编号,版本\r\n余纪线〔2022〕1号,1\r\n";
    match parse(Source::Discipline, "jjjc.csv", text.as_bytes()) {
        Err(AdapterError::Rejected { reason, .. }) => assert!(reason.contains("UTF-8"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let with_bom = [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat();
    assert!(
        parse(Source::Discipline, "jjjc.csv", &with_bom).is_err(),
        "a byte-order mark is no reason to guess"
    );
}

#[test]
fn congress_reads_namespaces_cdata_escapes_and_attributes() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<JDSXPL xmlns="urn:rd:sfjd:1.0" pc="20220930">
  <JDSX>
    <SXBH>RDJD-1</SXBH>
    <NR><![CDATA[信访人反映（2022）浙0110执123号案件 & 其他]]></NR>
    <BT>A &amp; B</BT>
    <SJAJ><AH>(2022)浙0110执124号</AH></SJAJ>
    <DBXX><DB><XM>王秀英</XM><SJHM>138 0571 1234</SJHM></DB></DBXX>
    <DSR ZJLX="居民身份证" ZJHM="110105194912310021" JS="申请人">李四</DSR>
    <LRR>x</LRR>
    <XZQH>330110</XZQH>
  </JDSX>
  <JDSX>
    <BT>no key</BT>
  </JDSX>
</JDSXPL>"#;
    let p = parse(Source::Congress, "rd.xml", xml.as_bytes()).unwrap();
    assert_eq!(reasons(&p), vec![("item 2, line 13".to_string(), "missing_key")]);
    assert_eq!(p.warnings, vec!["unknown elements ignored: LRR".to_string()]);
    let r = records(&p)[0];
    assert_eq!(r.title.as_deref(), Some("A & B"));
    assert!(r.summary.as_deref().unwrap().contains("& 其他"));
    assert_eq!(
        r.case_numbers,
        vec!["(2022)浙0110执124号".to_string(), "(2022)浙0110执123号".to_string()]
    );
    assert_eq!(
        r.parties[0].phones.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        ["13805711234"]
    );
    assert!(r.issues.iter().any(|i| i.issue == "bad_checksum"), "{:?}", r.issues);
    let bare = xml.replace(" xmlns=\"urn:rd:sfjd:1.0\"", "");
    assert_eq!(
        records(&parse(Source::Congress, "rd.xml", bare.as_bytes()).unwrap()).len(),
        1,
        "no namespace is fine"
    );
}

#[test]
fn congress_rejects_malformed_xml_with_line_and_column() {
    let xml = "<?xml version=\"1.0\"?>\n<JDSXPL>\n  <JDSX><SXBH>x</SXBH></JDS>\n</JDSXPL>";
    match parse(Source::Congress, "rd.xml", xml.as_bytes()) {
        Err(AdapterError::Rejected { reason, .. }) => assert!(reason.contains("line 3"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn procuratorate_pages_quarantine_items_and_read_tombstones() {
    let page = r#"{"items":[
        {"id":"P-1","version":3,"docNo":"杭余检刑监（2022）12号","kind":"SOMETHING_NEW","summary":"针对A3301105400002022090001号案件","relatedCases":[{"caseNo":"[2022]浙0110民初1234号"}],
         "subjects":[{"type":"ORG","name":"杭州某某（集团）有限公司","idNo":"91350100M000100Y43","role":"OTHER"}],"regionCode":"330110","filedAt":"2022-09-27T10:15:00+08:00"},
        {"version":1},
        {"id":"P-2"},
        {"id":"P-3","version":2,"deleted":true,"updatedAt":"2023-01-08T10:02:54+08:00"}
    ],"nextCursor":null}"#;
    let p = parse(Source::Procuratorate, "proc_page_0001.json", page.as_bytes()).unwrap();
    assert_eq!(
        reasons(&p),
        vec![
            ("item 2".to_string(), "missing_key"),
            ("item 3".to_string(), "missing_version")
        ]
    );
    let rs = records(&p);
    assert_eq!(rs[0].category.as_deref(), Some("SOMETHING_NEW"));
    assert_eq!(
        rs[0].case_numbers,
        vec![
            "杭余检刑监〔2022〕12号",
            "(2022)浙0110民初1234号",
            "A3301105400002022090001"
        ]
    );
    assert_eq!(rs[0].parties[0].name, "杭州某某(集团)有限公司");
    assert_eq!(
        rs[0].parties[0].credit_code.as_ref().map(|c| c.as_str()),
        Some("91350100M000100Y43")
    );
    assert!(rs[1].tombstone);
    assert!(parse(Source::Procuratorate, "p.json", b"{\"items\": [").is_err());
}

#[test]
fn social_reads_bom_multiline_fields_and_quarantines_open_quotes() {
    let text = "\u{feff}工单编号,渠道,来电时间,诉求人,诉求人电话,诉求类型,诉求内容,被反映对象,事发地址,所属区县,所属镇街,承办单位,办理状态,办结时间,满意度\r\n\
        GD1,12345热线,2022/9/1 10:15,张**,138****1234,举报,\"被杭州某某科技有限公司骗取钱款，\r\n联系电话 138-0571-1234, 身份证330106********1234\",杭州某某科技有限公司,地址,330110,仓前街道,局,已办结,,满意\r\n\
        ,12345热线,2022/9/1 10:15,匿名,,咨询,x,,地址,330110,仓前街道,局,已受理,,\r\n\
        GD2,12345热线,2022/9/1 10:15,匿名,,咨询,x\r\n\
        GD3,12345热线,2022/9/1 10:15,匿名,,咨询,\"open quote\r\nnever closed";
    let p = parse(Source::Social, "shjd.csv", text.as_bytes()).unwrap();
    assert_eq!(
        reasons(&p),
        vec![
            ("line 4, row 2".to_string(), "missing_key"),
            ("line 5, row 3".to_string(), "wrong_field_count"),
            ("line 6, row 4".to_string(), "unterminated_quote"),
        ]
    );
    let r = records(&p)[0];
    assert_eq!(r.version, None, "social rows are compared by content");
    assert!(
        r.keys.contains(&(LinkKind::Phone, "13805711234".into())),
        "{:?}",
        r.keys
    );
    assert!(
        r.keys.iter().all(|(k, _)| *k != LinkKind::PersonId),
        "masked ID numbers are no keys"
    );
    assert_eq!(r.parties.len(), 1, "a masked complainant is no party");
    assert_eq!(r.parties[0].kind, entities::PartyKind::Organization);
    assert!(
        r.issues.iter().any(|i| i.field == "诉求人电话" && i.issue == "masked"),
        "{:?}",
        r.issues
    );
}

#[test]
fn satisfaction_is_kept_from_social_and_from_a_deputys_assessment() {
    let text = "\u{feff}工单编号,渠道,来电时间,诉求人,诉求人电话,诉求类型,诉求内容,被反映对象,事发地址,所属区县,所属镇街,承办单位,办理状态,办结时间,满意度\r\n\
        GD1,12345热线,2022/9/1 10:15,匿名,,投诉,x,,地址,330110,仓前街道,局,已办结,2022/9/9,不满意\r\n\
        GD2,12345热线,2022/9/1 10:15,匿名,,投诉,x,,地址,330110,仓前街道,局,已办结,2022/9/9, 基本满意 \r\n\
        GD3,12345热线,2022/9/1 10:15,匿名,,投诉,x,,地址,330110,仓前街道,局,已受理,,\r\n\
        GD4,12345热线,2022/9/1 10:15,匿名,,投诉,x,,地址,330110,仓前街道,局,已办结,2022/9/9,很好\r\n";
    let p = parse(Source::Social, "shjd.csv", text.as_bytes()).unwrap();
    let got: Vec<Option<entities::Satisfaction>> = records(&p).iter().map(|r| r.satisfaction).collect();
    use entities::Satisfaction::*;
    assert_eq!(got, vec![Some(Dissatisfied), Some(FairlySatisfied), None, None]);
    let odd = records(&p)[3];
    assert!(
        odd.issues
            .iter()
            .any(|i| i.field == "满意度" && i.raw_value == "很好" && i.issue == "unknown_satisfaction"),
        "an unknown label is kept as recorded and raises an issue: {:?}",
        odd.issues
    );
    let xml = r#"<JDSXPL><JDSX><SXBH>RDJD-9</SXBH><BLZT>不满意</BLZT><XZQH>330110</XZQH></JDSX><JDSX><SXBH>RDJD-10</SXBH><BLZT>办理中</BLZT><XZQH>330110</XZQH></JDSX></JDSXPL>"#;
    let p = parse(Source::Congress, "rd.xml", xml.as_bytes()).unwrap();
    let got: Vec<(Option<&str>, Option<entities::Satisfaction>)> = records(&p)
        .iter()
        .map(|r| (r.status.as_deref(), r.satisfaction))
        .collect();
    assert_eq!(got, vec![(Some("不满意"), Some(Dissatisfied)), (Some("办理中"), None)]);
}

#[test]
fn a_huge_record_is_quarantined_unparsed_and_a_nul_one_screened() {
    let huge = format!("{{\"JDBH\":\"ZFJD-1\",\"BBH\":1,\"WTMS\":\"{}\"}}", "x".repeat(2 << 20));
    let text = format!("{huge}\n{{\"JDBH\":\"ZFJD-2\",\"BBH\":1,\"XZQH\":\"330110\"}}\n");
    let p = parse(Source::Enforcement, "zfjd.ndjson", text.as_bytes()).unwrap();
    let reasons: Vec<&str> = p
        .items
        .iter()
        .filter_map(|i| match i {
            adapters::record::Item::Quarantined(q) => Some(q.reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec!["record_too_large"]);
    assert_eq!(records(&p).len(), 1);
    let csv = format!(
        "\u{feff}工单编号,渠道,来电时间,诉求人,诉求人电话,诉求类型,诉求内容,被反映对象,事发地址,所属区县,所属镇街,承办单位,办理状态,办结时间,满意度\r\n\
         GD1,12345热线,2022/9/1 10:15,匿名,,投诉,{},,地址,330110,仓前街道,局,已办结,2022/9/9,\r\n",
        "y".repeat(2 << 20)
    );
    let p = parse(Source::Social, "shjd.csv", csv.as_bytes()).unwrap();
    assert!(matches!(&p.items[0], adapters::record::Item::Quarantined(q) if q.reason == "record_too_large"));

    let nul = "{\"JDBH\":\"ZFJD-3\",\"BBH\":1,\"WTMS\":\"a\\u0000b\",\"XZQH\":\"330110\"}";
    let p = parse(Source::Enforcement, "zfjd.ndjson", nul.as_bytes()).unwrap();
    let screened: Vec<adapters::record::Item> = p.items.into_iter().map(adapters::record::screen).collect();
    assert!(
        matches!(&screened[0], adapters::record::Item::Quarantined(q) if q.reason == "invalid_text" && q.raw.contains("\\u0000")),
        "{screened:?}"
    );
    assert_eq!(adapters::record::storable("a\u{0}b"), "a\\u0000b");
}

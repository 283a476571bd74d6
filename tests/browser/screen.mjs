// The command screen (/) of `serve --demo` in Debian's headless Chromium: sign in with the
// demo's role buttons and with a pasted token; draw the five-system chain and check its nodes
// against the API's answer; a congress viewer sees masked keys; an agency answers a task;
// the towns, tasks and aggregates views; a bad token, a missing case and a missing right each
// explained; no request leaves 127.0.0.1. Screenshots of each view go to SHOTS.
// Usage: node screen.mjs GATEWAY_URL FIVE_SYSTEM_KEY AGENCY_TOKEN SHOTS
import { mkdirSync } from "node:fs";
import { check, failures, launch } from "./common.mjs";

const [gateway, fiveKey, agencyToken, shots] = process.argv.slice(2);
if (!shots) {
  console.error("usage: node screen.mjs GATEWAY_URL FIVE_SYSTEM_KEY AGENCY_TOKEN SHOTS");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const demo = await (await fetch(`${gateway}/demo/tokens`)).json();
const tokens = demo.roles;
const api = async (token, query, variables = {}) => {
  const r = await fetch(`${gateway}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return r.json();
};

const browser = await launch();
const hosts = new Set();
const errors = [];
async function tab() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  context.on("request", (r) => hosts.add(new URL(r.url()).hostname));
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  return page;
}
async function signInAs(page, role) {
  await page.goto(`${gateway}/`);
  await page.locator(`button.role[data-role="${role}"]`).click();
  await page.getByTestId("who").waitFor();
}
const graphNodes = (page) => page.evaluate(() => window.qianchuanGraph.nodes(":not(.hub)").map((n) => n.id()).sort());
const graphEdges = (page) => page.evaluate(() => window.qianchuanGraph.edges(":not(.hub)").map((e) => e.data("label")));

try {
  // 1. discipline (all five sources): the five-system chain, node for node as the API answers.
  const discipline = await tab();
  await signInAs(discipline, "discipline");
  // A demo role lands on the chain of the five-system case.
  await discipline.locator('#graph[data-ready="true"]').waitFor({ timeout: 20000 });
  check(demo.chain.sourceKey === fiveKey && discipline.url().includes("#/chain?case="), "a demo role lands on the five-system chain");
  check((await discipline.getByTestId("who").innerText()).includes("discipline"), "the header shows the role");
  const { data: found } = await api(tokens.discipline, `query($k: String!) { caseBySourceKey(source: ENFORCEMENT, sourceKey: $k) { id } }`, { k: fiveKey });
  const rootId = found.caseBySourceKey.id;
  await discipline.goto(`${gateway}/#/chain?case=${encodeURIComponent(rootId)}`);
  await discipline.locator('#graph[data-ready="true"]').waitFor({ timeout: 20000 });
  const { data: chain } = await api(tokens.discipline, `query($id: ID!) { caseChain(caseId: $id) { root { id source } nodes { case { id source } } links { kind key } } }`, { id: rootId });
  const expected = [...new Set([rootId, ...chain.caseChain.nodes.map((n) => n.case.id)])].sort();
  const drawn = await graphNodes(discipline);
  check(JSON.stringify(drawn) === JSON.stringify(expected), `the drawn chain has the API's ${expected.length} cases (drawn ${drawn.length}; missing ${expected.filter((id) => !drawn.includes(id)).slice(0, 5)}; extra ${drawn.filter((id) => !expected.includes(id)).slice(0, 5)})`);
  const sources = new Set([chain.caseChain.root.source, ...chain.caseChain.nodes.map((n) => n.case.source)]);
  check(sources.size === 5, `the chain spans five systems (${[...sources].join(", ")})`);
  check((await graphEdges(discipline)).length >= chain.caseChain.links.length, "every link is drawn with its kind and key");
  // A complaint naming a person of the root case arrives: the chain grows on the page (chainGrew),
  // without a reload.
  const { data: rootCase } = await api(tokens.discipline, `query($id: ID!) { case(id: $id) { parties { party { idNumber } } } }`, { id: rootId });
  const idNumber = rootCase.case.parties.map((p) => p.party.idNumber).find(Boolean);
  const key = `GDLIVE${Date.now()}`;
  const csv = "\ufeff工单编号,渠道,来电时间,诉求人,诉求人电话,诉求类型,诉求内容,被反映对象,事发地址,所属区县,所属镇街,承办单位,办理状态,办结时间,满意度\r\n" +
    `${key},12345热线,2023-12-20 10:00:00,匿名,,举报,举报一名男子（身份证号${idNumber}）的问题。,,小营街道某小区,330102,小营街道,上城区人民政府小营街道办事处,已受理,,\r\n`;
  const ingested = await fetch(`${gateway}/ingest/social`, {
    method: "POST",
    headers: { authorization: `Bearer ${tokens.admin}`, "content-type": "text/csv", "x-file-name": "shjd_gd_live.csv" },
    body: csv,
  }).then((r) => r.json());
  check(ingested.inserted === 1, `a complaint naming ${idNumber.slice(0, 6)}… was ingested (${JSON.stringify(ingested).slice(0, 120)})`);
  const grew = await discipline
    .waitForFunction((k) => window.qianchuanGraph.nodes().some((n) => n.data("sourceKey") === k), key, { timeout: 20000 })
    .then(() => true)
    .catch(() => false);
  check(grew, "the new case joined the drawn chain live (chainGrew), without a reload");
  await discipline.evaluate((id) => window.qianchuanGraph.getElementById(id).emit("tap"), rootId);
  await discipline.getByTestId("expand").waitFor();
  await discipline.screenshot({ path: `${shots}/chain.png` });
  // A search that finds nothing says so.
  await discipline.getByTestId("search").fill("NO-SUCH-CASE-404");
  await discipline.getByTestId("search").press("Enter");
  await discipline.getByTestId("not-found").waitFor();
  check(true, "a case not found says so");

  // 2. congress: the same chain's keys are masked.
  const congress = await tab();
  await signInAs(congress, "congress");
  const { data: visible } = await api(tokens.congress, `{ cases(filter: { sources: [CONGRESS] }, first: 10) { nodes { id chain(maxNodes: 20) { links { kind } } } } }`);
  if (!visible) throw new Error("congress cases could not be read");
  const withPerson = visible.cases.nodes.find((c) => c.chain.links.some((l) => l.kind === "PERSON_ID" || l.kind === "PHONE")) ?? visible.cases.nodes[0];
  await congress.goto(`${gateway}/#/chain?case=${encodeURIComponent(withPerson.id)}`);
  await congress.locator('#graph[data-ready="true"]').waitFor({ timeout: 20000 });
  const labels = await graphEdges(congress);
  const personal = labels.filter((l) => l.startsWith("PERSON_ID") || l.startsWith("PHONE"));
  check(personal.length > 0 && personal.every((l) => l.includes("*")), `congress sees masked keys (${personal.slice(0, 3).join("; ")})`);
  check(!labels.some((l) => l.startsWith("PERSON_ID") && /\d{17}[\dX]/.test(l)), "no clear ID number reaches a congress page");

  // 3. plc: the towns' colours — the troubled town is RED with 约谈 in 2023-03.
  const plc = await tab();
  // Every WebSocket of this tab goes through the test, which can drop it (below).
  const sockets = [];
  await plc.routeWebSocket(/\/graphql\/ws$/, (ws) => {
    sockets.push(ws);
    ws.connectToServer();
  });
  await signInAs(plc, "plc");
  await plc.goto(`${gateway}/#/towns?month=2023-03`);
  await plc.getByTestId("towns-grid").locator("table").waitFor({ timeout: 20000 });
  const red = await plc.locator('td[data-town="仓前街道"][data-month="2023-03"]').getAttribute("data-color");
  check(red === "RED", `仓前街道 is RED in 2023-03 on the towns grid (${red})`);
  check((await plc.locator('td[data-town="仓前街道"][data-month="2023-03"]').innerText()).includes("约谈"), "with its escalation step");
  await plc.getByTestId("findings").waitFor({ timeout: 20000 });
  check((await plc.getByTestId("findings").innerText()).includes("shell_company"), "the supervision models' findings by region are shown");
  await plc.screenshot({ path: `${shots}/towns.png` });

  // The WebSocket drops (the route closes it): the page says so, keeps serving reads, and
  // reconnects by itself.
  await plc.goto(`${gateway}/#/tasks`);
  await plc.locator("#live.connected").waitFor({ timeout: 20000 });
  const before = sockets.length;
  sockets.forEach((ws) => ws.close({ code: 1011, reason: "dropped by the test" }));
  await plc.locator("#live.reconnecting").waitFor({ timeout: 20000 });
  check(true, "a dropped WebSocket is shown as reconnecting (read-only)");
  await plc.locator("#live.connected").waitFor({ timeout: 30000 });
  check(sockets.length > before, `the page reconnected by itself (${sockets.length - before} new connection)`);
  await plc.getByTestId("board").locator("[data-testid=task]").first().waitFor({ timeout: 20000 });

  // 4. an agency signs in with a pasted token and answers a task of its town.
  const agency = await tab();
  await agency.goto(`${gateway}/`);
  await agency.getByTestId("token").fill(agencyToken);
  await agency.getByRole("button", { name: "Sign in" }).click();
  await agency.getByTestId("who").waitFor();
  await agency.goto(`${gateway}/#/tasks`);
  const card = agency.getByTestId("task").filter({ has: agency.getByTestId("answer") }).first();
  await card.waitFor({ timeout: 20000 });
  const taskId = await card.getAttribute("data-task");
  await card.getByTestId("note").fill("已整改，附现场照片");
  await card.getByTestId("answer").click();
  await agency.locator(`.column:has(h3:text("RECTIFYING")) [data-task="${taskId}"]`).waitFor({ timeout: 20000 });
  const { data: tasks } = await api(agencyToken, `{ supervisionTasks(first: 100) { nodes { id stage history { note } } } }`);
  const task = tasks.supervisionTasks.nodes.find((t) => t.id === taskId);
  check(task?.stage === "RECTIFYING" && task.history.some((h) => h.note === "已整改，附现场照片"), "the agency's answer moved the task to RECTIFYING, with its note");
  await agency.screenshot({ path: `${shots}/tasks.png` });
  // The supervisor (plc) revisits it and closes it (销号).
  await plc.goto(`${gateway}/#/tasks?department=${encodeURIComponent("仓前街道")}`);
  await plc.locator(`[data-task="${taskId}"] [data-testid=revisit]`).click({ timeout: 20000 });
  await plc.locator(`.column:has(h3:text("REVISITED")) [data-task="${taskId}"] [data-testid=close]`).click({ timeout: 20000 });
  await plc.locator(`.column:has(h3:text("CLOSED")) [data-task="${taskId}"]`).waitFor({ timeout: 20000 });
  check(true, "the supervisor revisited and closed the task on the board");

  // 5. analyst: aggregates as a chart; the chain is explained as not theirs.
  const analyst = await tab();
  await signInAs(analyst, "analyst");
  await analyst.goto(`${gateway}/#/stats`);
  await analyst.getByTestId("charts").locator("ul.chart").first().waitFor({ timeout: 20000 });
  await analyst.screenshot({ path: `${shots}/stats.png` });
  check(true, "the analyst sees caseStats as a chart");
  await analyst.goto(`${gateway}/#/chain?case=${encodeURIComponent(rootId)}`);
  await analyst.getByTestId("forbidden").waitFor({ timeout: 20000 });
  check(true, "a role without the right gets a plain explanation");

  // 6. a malformed token leads back to sign-in with the reason.
  const stranger = await tab();
  await stranger.goto(`${gateway}/`);
  await stranger.getByTestId("token").fill("not.a.token");
  await stranger.getByRole("button", { name: "Sign in" }).click();
  await stranger.getByTestId("signin-reason").waitFor({ timeout: 20000 });
  check((await stranger.getByTestId("signin-reason").innerText()).includes("refused"), "a bad token is sent back to sign-in with the reason");
} catch (e) {
  check(false, `the screen test stopped: ${e}`);
} finally {
  await browser.close();
}
check(errors.length === 0, `no script error (${errors.join("; ")})`);
check([...hosts].every((h) => h === "127.0.0.1"), `no request left 127.0.0.1 (hosts: ${[...hosts].join(", ")})`);
if (failures.length) {
  console.error(`${failures.length} screen check(s) failed`);
  process.exit(1);
}
console.log("the command screen works in Chromium");

// The gateway's pages in a real browser (Debian's Chromium, headless, driven by playwright-core):
// GraphiQL works offline with a token and runs a query; a page on another origin listed in
// QIANCHUAN_CORS_ORIGINS queries the API, one not listed cannot; no request leaves 127.0.0.1.
// Screenshots go to SHOTS (not committed).
// Usage: node browser.mjs GATEWAY_URL TOKEN ALLOWED_PORT STRANGER_PORT SHOTS
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { check, failures, launch } from "./common.mjs";

const [gateway, token, allowedPort, strangerPort, shots] = process.argv.slice(2);
if (!shots) {
  console.error("usage: node browser.mjs GATEWAY_URL TOKEN ALLOWED_PORT STRANGER_PORT SHOTS");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

// A page of another origin that asks the gateway who its token is.
const page = `<!doctype html><meta charset="utf-8"><body><pre id="out">waiting</pre><script>
fetch(${JSON.stringify(gateway + "/graphql")}, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: ${JSON.stringify("Bearer " + token)} },
  body: JSON.stringify({ query: "{ me { role } }" }),
}).then((r) => r.json()).then((b) => { out.textContent = "role:" + b.data.me.role; })
  .catch((e) => { out.textContent = "refused:" + e; });
</script></body>`;
const servers = [allowedPort, strangerPort].map((port) =>
  createServer((_, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page)).listen(
    Number(port),
    "127.0.0.1",
  ),
);

const browser = await launch();
const hosts = new Set();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.on("request", (r) => hosts.add(new URL(r.url()).hostname));
  const tab = await context.newPage();
  const errors = [];
  tab.on("pageerror", (e) => errors.push(String(e)));

  // GraphiQL, offline, with the token in its (persisted) headers.
  await tab.addInitScript(([auth]) => {
    localStorage.setItem("graphiql:headers", JSON.stringify({ Authorization: auth }));
    localStorage.setItem("graphiql:query", "{ me { role } }");
  }, [`Bearer ${token}`]);
  await tab.goto(`${gateway}/graphql`);
  await tab.waitForSelector(".graphiql-container", { timeout: 20000 });
  await tab.locator(".graphiql-execute-button").click();
  const result = tab.locator(".result-window");
  await result.getByText('"admin"').waitFor({ timeout: 20000 }).catch(() => {});
  const text = await result.innerText();
  check(text.includes('"role"') && text.includes('"admin"'), `GraphiQL ran { me { role } } (${text.replace(/\s+/g, " ").slice(0, 80)})`);
  check(errors.length === 0, `GraphiQL raised no script error (${errors.join("; ")})`);
  await tab.screenshot({ path: `${shots}/graphiql.png` });

  // CORS from a browser: the listed origin gets the answer, the other does not.
  for (const [port, allowed] of [[allowedPort, true], [strangerPort, false]]) {
    const other = await context.newPage();
    await other.goto(`http://127.0.0.1:${port}/`);
    await other.waitForFunction(() => document.getElementById("out").textContent !== "waiting", null, { timeout: 20000 });
    const out = await other.locator("#out").innerText();
    check(allowed ? out === "role:admin" : out.startsWith("refused:"), `origin :${port} (${allowed ? "listed" : "not listed"}): ${out}`);
    await other.screenshot({ path: `${shots}/cors-${allowed ? "listed" : "not-listed"}.png` });
  }
} finally {
  await browser.close();
  servers.forEach((s) => s.close());
}
check([...hosts].every((h) => h === "127.0.0.1"), `no request left 127.0.0.1 (hosts: ${[...hosts].join(", ")})`);
if (failures.length) {
  console.error(`${failures.length} browser check(s) failed`);
  process.exit(1);
}
console.log("the gateway's pages work in Chromium");

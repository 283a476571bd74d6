// Chain: find a case (source key, case number, ID number, credit code, phone, name or text),
// draw its chain (nodes coloured by source, edges labelled kind: key, hubs collapsed), show a
// node's details (provenance for admin), expand a node, and follow chainGrew live.
import cytoscape from "cytoscape";
import { ApiError, escapeHtml, explain, gql, subscribe } from "./api.js";

export const SOURCE_COLOURS = {
  ENFORCEMENT: "#1f77b4",
  DISCIPLINE: "#d62728",
  CONGRESS: "#9467bd",
  PROCURATORATE: "#2ca02c",
  SOCIAL: "#ff7f0e",
};
const SOURCES = Object.keys(SOURCE_COLOURS);

const CASE_FIELDS = "id source sourceKey title";
const CHAIN = `query($id: ID!, $depth: Int!, $minScore: Float!) {
  caseChain(caseId: $id, maxDepth: $depth, minScore: $minScore, maxNodes: 200) {
    root { ${CASE_FIELDS} }
    nodes { depth score case { ${CASE_FIELDS} } }
    links { from to kind key score }
    hubs { kind key caseCount }
    truncated } }`;

/** Cases matching what was typed: a global id, a source key, or the hub's filters. */
async function find(text) {
  if (/^Case:\d+$/.test(text)) return [{ id: text }];
  const bySourceKey = SOURCES.map((s, i) => `k${i}: caseBySourceKey(source: ${s}, sourceKey: $t) { ${CASE_FIELDS} }`).join(" ");
  const data = await gql(
    `query($t: String!) { ${bySourceKey}
       byIdentifier: cases(filter: { identifier: $t }, first: 10) { nodes { ${CASE_FIELDS} } }
       byNumber: cases(filter: { caseNumber: $t }, first: 10) { nodes { ${CASE_FIELDS} } }
       byName: cases(filter: { partyName: $t }, first: 10) { nodes { ${CASE_FIELDS} } }
       byText: cases(filter: { text: $t }, first: 10) { nodes { ${CASE_FIELDS} } } }`,
    { t: text },
  ).catch((e) => {
    // An identifier of the wrong shape is BAD_USER_INPUT for that filter: search the text alone.
    if (e.code !== "BAD_USER_INPUT") throw e;
    return gql(
      `query($t: String!) { byName: cases(filter: { partyName: $t }, first: 10) { nodes { ${CASE_FIELDS} } }
         byText: cases(filter: { text: $t }, first: 10) { nodes { ${CASE_FIELDS} } } }`,
      { t: text },
    );
  });
  const found = new Map();
  for (const [key, value] of Object.entries(data)) {
    const list = key.startsWith("k") ? (value ? [value] : []) : value.nodes;
    list.forEach((c) => found.set(c.id, c));
  }
  return [...found.values()];
}

export async function chainView(el, params, me) {
  const caseId = params.get("case");
  const depth = Number(params.get("depth") ?? 3);
  const minScore = Number(params.get("minScore") ?? 0.5);
  el.innerHTML = `
    <form id="search" class="toolbar">
      <input name="q" placeholder="source key, case number, ID number, credit code, name…" value="${escapeHtml(params.get("q") ?? "")}" data-testid="search">
      <label>depth <input name="depth" type="number" min="1" max="6" value="${depth}" data-testid="depth"></label>
      <label>min score <input name="minScore" type="number" min="0" max="1" step="0.05" value="${minScore}" data-testid="min-score"></label>
      <button type="submit">Pull the chain</button>
    </form>
    <div id="found"></div>
    <div class="chain"><div id="graph" data-testid="graph"></div><aside id="details" data-testid="details"></aside></div>
    <p class="legend">${SOURCES.map((s) => `<span style="background:${SOURCE_COLOURS[s]}">${s}</span>`).join(" ")}</p>`;
  const form = el.querySelector("#search");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = form.q.value.trim();
    const controls = `depth=${form.depth.value}&minScore=${form.minScore.value}`;
    if (!q) return;
    try {
      const matches = await find(q);
      if (matches.length === 1) {
        location.hash = `#/chain?case=${encodeURIComponent(matches[0].id)}&q=${encodeURIComponent(q)}&${controls}`;
      } else if (matches.length === 0) {
        el.querySelector("#found").innerHTML = `<p class="notice" data-testid="not-found">No case you may see matches “${escapeHtml(q)}”.</p>`;
      } else {
        el.querySelector("#found").innerHTML =
          `<p>${matches.length} cases match:</p><ul class="matches">` +
          matches
            .map((c) => `<li><a href="#/chain?case=${encodeURIComponent(c.id)}&q=${encodeURIComponent(q)}&${controls}">${escapeHtml(c.source)} ${escapeHtml(c.sourceKey)}</a> ${escapeHtml(c.title ?? "")}</li>`)
            .join("") +
          "</ul>";
      }
    } catch (error) {
      el.querySelector("#found").innerHTML = explain(error, "cases");
    }
  });
  if (!caseId) {
    el.querySelector("#graph").innerHTML = `<p class="hint">Search a case to draw its chain.</p>`;
    return () => {};
  }

  let data;
  try {
    data = (await gql(CHAIN, { id: caseId, depth, minScore })).caseChain;
    // The viewer went elsewhere while the chain was on its way.
    if (!el.isConnected) return () => {};
  } catch (error) {
    el.querySelector("#graph").innerHTML =
      error instanceof ApiError && error.code === "NOT_FOUND"
        ? `<p class="notice" data-testid="not-found">Case ${escapeHtml(caseId)} was not found (or is outside what you may see).</p>`
        : explain(error, "this chain");
    return () => {};
  }
  const cy = cytoscape({
    container: el.querySelector("#graph"),
    style: [
      { selector: "node", style: { "background-color": "data(colour)", label: "data(label)", "font-size": 9, "text-wrap": "wrap", "text-max-width": 120, color: "#222" } },
      { selector: "node.root", style: { "border-width": 4, "border-color": "#000" } },
      { selector: "node.hub", style: { shape: "round-rectangle", "background-color": "#bbb", "font-size": 8 } },
      { selector: "edge", style: { label: "data(label)", "font-size": 7, "curve-style": "bezier", width: 1.5, "line-color": "#999", "text-rotation": "autorotate", color: "#555" } },
      { selector: "edge.hub", style: { "line-style": "dashed" } },
    ],
    elements: [],
  });
  // For tests and for the curious: what is drawn.
  window.qianchuanGraph = cy;
  const addChain = (chain) => {
    for (const n of [{ case: chain.root, depth: 0, score: 1 }, ...chain.nodes]) {
      if (cy.getElementById(n.case.id).length) continue;
      cy.add({
        data: { id: n.case.id, label: `${n.case.source}\n${n.case.sourceKey}`, colour: SOURCE_COLOURS[n.case.source] ?? "#777", source: n.case.source, sourceKey: n.case.sourceKey },
        classes: n.case.id === data.root.id ? "root" : "",
      });
    }
    for (const l of chain.links) {
      const id = `${l.from}|${l.to}|${l.kind}|${l.key}`;
      if (cy.getElementById(id).length || !cy.getElementById(l.from).length || !cy.getElementById(l.to).length) continue;
      cy.add({ data: { id, source: l.from, target: l.to, label: `${l.kind}: ${l.key}`, kind: l.kind, key: l.key } });
    }
    for (const h of chain.hubs) {
      const id = `hub|${h.kind}|${h.key}`;
      if (cy.getElementById(id).length) continue;
      cy.add({ data: { id, label: `${h.kind}: ${h.key}\n(${h.caseCount} cases, not walked)`, colour: "#bbb" }, classes: "hub" });
      cy.add({ data: { id: `${id}|edge`, source: chain.root.id, target: id, label: "" }, classes: "hub" });
    }
  };
  addChain(data);
  const layout = () => cy.layout({ name: "breadthfirst", roots: [data.root.id], spacingFactor: 1.1, animate: false }).run();
  layout();
  el.querySelector("#graph").dataset.ready = "true";
  el.querySelector("#details").innerHTML = `<p class="hint">${cy.nodes(":not(.hub)").length} cases${data.truncated ? " (truncated: raise the limits or pull from a node)" : ""}. Click a case for its details.</p>`;

  cy.on("tap", "node", async (event) => {
    const node = event.target;
    if (node.hasClass("hub")) return;
    const details = el.querySelector("#details");
    try {
      const admin = me.role === "admin";
      const { case: c } = await gql(
        `query($id: ID!) { case(id: $id) { id source sourceKey title summary category status stage regionCode town agency openedOn closedOn caseNumbers
           parties { role nameAsRecorded party { kind name idNumber creditCode phones } }
           ${admin ? "provenance { version file position ingestedAt }" : ""} } }`,
        { id: node.id() },
      );
      details.innerHTML = `
        <h3>${escapeHtml(c.source)} ${escapeHtml(c.sourceKey)}</h3>
        <p>${escapeHtml(c.title ?? "")}</p><p class="summary">${escapeHtml(c.summary ?? "")}</p>
        <dl>
          <dt>region</dt><dd>${escapeHtml(c.regionCode ?? "")} ${escapeHtml(c.town ?? "")}</dd>
          <dt>opened</dt><dd>${escapeHtml(c.openedOn ?? "")}</dd>
          <dt>status</dt><dd>${escapeHtml(c.status ?? "")} ${escapeHtml(c.stage ?? "")}</dd>
          <dt>case numbers</dt><dd>${c.caseNumbers.map(escapeHtml).join("<br>")}</dd>
        </dl>
        <h4>Parties</h4><ul>${c.parties
          .map((p) => `<li>${escapeHtml(p.role)}: ${escapeHtml(p.nameAsRecorded)} ${escapeHtml(p.party.idNumber ?? p.party.creditCode ?? "")} ${escapeHtml(p.party.phones.join(" "))}</li>`)
          .join("")}</ul>
        ${c.provenance ? `<h4>Provenance</h4><ul data-testid="provenance">${c.provenance.map((r) => `<li>v${r.version} ${escapeHtml(r.file)} @ ${escapeHtml(r.position)}</li>`).join("")}</ul>` : ""}
        <button id="expand" data-testid="expand">Pull from this case</button>
        <a href="#/chain?case=${encodeURIComponent(c.id)}&depth=${depth}&minScore=${minScore}">Centre the chain here</a>`;
      details.querySelector("#expand").addEventListener("click", async () => {
        const more = (await gql(CHAIN, { id: c.id, depth: 1, minScore })).caseChain;
        addChain(more);
        layout();
      });
    } catch (error) {
      details.innerHTML = explain(error, "this case");
    }
  });

  // New cases joining the chain appear without a reload.
  const stop = subscribe(
    `subscription($id: ID!) { chainGrew(caseId: $id, maxDepth: ${depth}, minScore: ${minScore}) {
       nodes { depth score case { ${CASE_FIELDS} } } links { from to kind key score } } }`,
    { id: data.root.id },
    ({ chainGrew }) => {
      addChain({ root: data.root, nodes: chainGrew.nodes, links: chainGrew.links, hubs: [] });
      layout();
    },
  );
  return () => {
    stop();
    cy.destroy();
  };
}

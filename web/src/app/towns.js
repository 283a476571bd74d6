// Towns: the governance index (一镇一指数) of a month and the five before it, a row per town
// coloured GREEN/BLUE/ORANGE/RED with warnings and escalation steps; a town's trend; the 平安督
// ranking of the month.
import { escapeHtml, explain, gql } from "./api.js";

const COLOURS = { GREEN: "#2e7d32", BLUE: "#1565c0", ORANGE: "#ef6c00", RED: "#c62828" };
const STEP = { REMIND: "提醒", SUPERVISE: "督办", INTERVIEW: "约谈" };

function monthsBack(month, n) {
  const [y, m] = month.split("-").map(Number);
  const d = new Date(Date.UTC(y, m - 1 - n, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

export async function townsView(el, params) {
  const month = /^\d{4}-\d{2}$/.test(params.get("month") ?? "") ? params.get("month") : "2023-03";
  const from = monthsBack(month, 5);
  const town = params.get("town");
  el.innerHTML = `
    <form id="pick" class="toolbar"><label>month <input name="month" type="month" value="${month}" data-testid="month"></label><button>Show</button></form>
    <div class="towns"><div id="grid" data-testid="towns-grid"></div><aside id="side"></aside></div>`;
  el.querySelector("#pick").addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = `#/towns?month=${e.target.month.value}`;
  });
  const grid = el.querySelector("#grid");
  try {
    const { governanceIndex } = await gql(
      `query($from: String!, $to: String!) { governanceIndex(from: $from, to: $to, level: TOWN) {
         region town month index color warning warningMonths suppressed } }`,
      { from, to: month },
    );
    const months = [...new Set(governanceIndex.map((s) => s.month))].sort();
    const rows = new Map();
    for (const s of governanceIndex.filter((s) => s.town)) {
      const key = `${s.region}|${s.town}`;
      if (!rows.has(key)) rows.set(key, { region: s.region, town: s.town, months: {} });
      rows.get(key).months[s.month] = s;
    }
    const ordered = [...rows.values()].sort((a, b) => (b.months[month]?.index ?? -1) - (a.months[month]?.index ?? -1));
    grid.innerHTML = ordered.length
      ? `<table class="grid"><thead><tr><th>town</th>${months.map((m) => `<th>${escapeHtml(m)}</th>`).join("")}</tr></thead><tbody>${ordered
          .map(
            (r) => `<tr><th><a href="#/towns?month=${month}&town=${encodeURIComponent(r.town)}">${escapeHtml(r.town)}</a> <small>${escapeHtml(r.region)}</small></th>${months
              .map((m) => {
                const s = r.months[m];
                if (!s) return "<td></td>";
                if (s.suppressed) return `<td class="suppressed" title="fewer than 5 cases">suppressed</td>`;
                const warn = s.warning ? ` ⚠ ${STEP[s.warning]}×${s.warningMonths}` : "";
                return `<td style="background:${COLOURS[s.color] ?? "#eee"}" data-color="${s.color}" data-town="${escapeHtml(r.town)}" data-month="${m}" title="${s.color}${warn}">${s.index ?? ""}${warn}</td>`;
              })
              .join("")}</tr>`,
          )
          .join("")}</tbody></table>`
      : `<p class="notice">No town has cases you may see from ${from} to ${month}.</p>`;
    if (town) {
      const row = ordered.find((r) => r.town === town);
      el.querySelector("#side").innerHTML = row
        ? `<h3>${escapeHtml(town)}</h3><ol class="trend">${months
            .map((m) => {
              const s = row.months[m];
              const width = Math.min(100, s?.index ?? 0);
              return `<li>${m} <span class="bar" style="width:${width}%;background:${COLOURS[s?.color] ?? "#ccc"}"></span> ${s?.index ?? "–"} ${s?.warning ? STEP[s.warning] : ""}</li>`;
            })
            .join("")}</ol>`
        : "";
    }
  } catch (error) {
    grid.innerHTML = explain(error, "the governance index");
  }
  // The 平安督 ranking of the month, when inspections exist.
  try {
    const { inspectionIndex } = await gql(
      `query($m: String!) { inspectionIndex(from: $m, to: $m) { town regionCode rank index places problems overdue suppressed } }`,
      { m: month },
    );
    if (inspectionIndex.length) {
      el.querySelector("#side").insertAdjacentHTML(
        "beforeend",
        `<h3>平安督 ranking ${month}</h3><ol class="ranking" data-testid="ranking">${inspectionIndex
          .sort((a, b) => (a.rank ?? 999) - (b.rank ?? 999))
          .map((s) => `<li>${escapeHtml(s.town)} ${s.suppressed ? "(suppressed)" : `${s.index} · ${s.problems} problems, ${s.overdue} overdue`}</li>`)
          .join("")}</ol>`,
      );
    }
  } catch {
    // Roles without the 平安督 index simply do not see the ranking.
  }
  // The supervision models' findings by region (their subjects' regions), when there are any.
  try {
    const data = await gql(`{ shell: findingStats(model: "shell_company") { level region count suppressed }
                              trade: findingStats(model: "trade_access") { level region count suppressed } }`);
    const rows = [];
    for (const [model, buckets] of [["空壳公司 shell_company", data.shell], ["特定行业准入 trade_access", data.trade]]) {
      const byRegion = new Map();
      for (const b of buckets) {
        const cell = byRegion.get(b.region) ?? {};
        cell[b.level] = b.suppressed ? "suppressed" : (cell[b.level] ?? 0) + (b.count ?? 0);
        byRegion.set(b.region, cell);
      }
      for (const [region, levels] of [...byRegion].sort()) {
        rows.push(`<tr><td>${escapeHtml(model)}</td><td>${escapeHtml(region ?? "")}</td><td>${Object.entries(levels)
          .map(([level, n]) => `${escapeHtml(level)} ${escapeHtml(n)}`)
          .join(", ")}</td></tr>`);
      }
    }
    if (rows.length) {
      el.querySelector("#side").insertAdjacentHTML(
        "beforeend",
        `<h3>Supervision-model findings by region</h3><table class="findings" data-testid="findings"><tbody>${rows.join("")}</tbody></table>`,
      );
    }
  } catch {
    // Roles that do not count findings do not see them here.
  }
  return () => {};
}

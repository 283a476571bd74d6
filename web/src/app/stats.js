// Aggregates: caseStats as bar charts by source and by month (for every role that may count,
// `analyst` included); suppressed cells are shown as such, never as zero.
import { escapeHtml, explain, gql } from "./api.js";

function chart(title, buckets, label) {
  const max = Math.max(1, ...buckets.map((b) => b.count ?? 0));
  return `<h3>${title}</h3><ul class="chart">${buckets
    .map(
      (b) => `<li><span class="label">${escapeHtml(label(b))}</span>${
        b.suppressed
          ? '<span class="suppressed" data-testid="suppressed">suppressed (fewer than 5)</span>'
          : `<span class="bar" style="width:${(80 * b.count) / max}%"></span> ${b.count}`
      }</li>`,
    )
    .join("")}</ul>`;
}

export async function statsView(el) {
  el.innerHTML = `<div id="charts" data-testid="charts"></div>`;
  try {
    const data = await gql(`{
      bySource: caseStats(groupBy: [SOURCE]) { source count suppressed }
      byMonth: caseStats(filter: { openedFrom: "2023-01-01", openedTo: "2023-12-31" }, groupBy: [MONTH]) { month count suppressed } }`);
    el.querySelector("#charts").innerHTML =
      chart("Cases by source", data.bySource, (b) => b.source) +
      chart("Cases opened per month, 2023", [...data.byMonth].sort((a, b) => (a.month ?? "").localeCompare(b.month ?? "")), (b) => b.month);
  } catch (error) {
    el.querySelector("#charts").innerHTML = explain(error, "aggregates");
  }
  return () => {};
}

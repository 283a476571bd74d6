// Tasks: the supervision tasks (督办) board by stage, overdue first, with each task's history.
// An agency answers its tasks; supervisors revisit, close or return them.
import { escapeHtml, explain, gql, subscribe } from "./api.js";

const STAGES = ["NOTIFIED", "RECTIFYING", "REVISITED", "CLOSED"];
const SUPERVISORS = ["admin", "plc", "procurator", "discipline", "congress"];
const TASK = "id title department deadline stage overdue openedBy town regionCode history { at actor role action note }";

/** Up to this many tasks are on the board (pages of 100); narrow it with the filter. */
const MAX_TASKS = 500;

export async function tasksView(el, params, me) {
  const filter = {};
  if (params.get("department")) filter.department = params.get("department");
  if (params.get("region")) filter.regionPrefix = params.get("region");
  el.innerHTML = `
    <form id="narrow" class="toolbar">
      <label>department <input name="department" value="${escapeHtml(filter.department ?? "")}" data-testid="department"></label>
      <label>region <input name="region" value="${escapeHtml(filter.regionPrefix ?? "")}" size="8"></label>
      <button>Show</button> <span id="count"></span>
    </form>
    <div id="board" class="board" data-testid="board"></div>`;
  el.querySelector("#narrow").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (e.target.department.value.trim()) q.set("department", e.target.department.value.trim());
    if (e.target.region.value.trim()) q.set("region", e.target.region.value.trim());
    location.hash = `#/tasks?${q}`;
  });
  const board = el.querySelector("#board");
  const load = async () => {
    const tasks = [];
    let total = 0;
    try {
      let after = null;
      do {
        const page = (
          await gql(
            `query($f: TaskFilter, $after: String) { supervisionTasks(filter: $f, first: 100, after: $after) {
               totalCount pageInfo { hasNextPage endCursor } nodes { ${TASK} } } }`,
            { f: filter, after },
          )
        ).supervisionTasks;
        tasks.push(...page.nodes);
        total = page.totalCount;
        after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      } while (after && tasks.length < MAX_TASKS);
    } catch (error) {
      board.innerHTML = explain(error, "supervision tasks");
      return;
    }
    el.querySelector("#count").textContent =
      tasks.length < total ? `${tasks.length} of ${total} tasks (narrow the filter to see the rest)` : `${total} tasks`;
    tasks.sort((a, b) => Number(b.overdue) - Number(a.overdue) || a.deadline.localeCompare(b.deadline));
    board.innerHTML = STAGES.map(
      (stage) => `<div class="column"><h3>${stage}</h3>${tasks
        .filter((t) => t.stage === stage)
        .map(
          (t) => `<article class="task ${t.overdue ? "overdue" : ""}" data-task="${escapeHtml(t.id)}" data-testid="task">
            <h4>${escapeHtml(t.title)}</h4>
            <p>${escapeHtml(t.department)} · due ${escapeHtml(t.deadline)}${t.overdue ? ' · <b class="late">overdue</b>' : ""}</p>
            <details><summary>history (${t.history.length})</summary><ol>${t.history
              .map((h) => `<li>${escapeHtml(h.at.slice(0, 16))} ${escapeHtml(h.actor)} (${escapeHtml(h.role)}) ${escapeHtml(h.action)} ${escapeHtml(h.note ?? "")}</li>`)
              .join("")}</ol></details>
            ${actions(t, me)}
          </article>`,
        )
        .join("") || '<p class="hint">none</p>'}</div>`,
    ).join("");
    board.querySelectorAll("form.step").forEach((form) =>
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const action = e.submitter?.value;
        const note = form.note.value.trim();
        const disposal = form.disposal?.value.trim() || null;
        try {
          if (action === "close") {
            await gql(`mutation($id: ID!, $note: String, $disposal: String) {
              closeSupervisionTask(id: $id, note: $note, disposal: $disposal) { id stage } }`, { id: form.dataset.task, note: note || null, disposal });
          } else {
            await gql(`mutation($id: ID!, $note: String${action === "answer" || action === "return" ? "!" : ""}) {
              ${action}SupervisionTask(id: $id, note: $note) { id stage } }`, { id: form.dataset.task, note: note || null });
          }
          await load();
        } catch (error) {
          form.insertAdjacentHTML("beforeend", explain(error, `this step (${action})`));
        }
      }),
    );
  };
  await load();
  // Steps taken elsewhere show up without a reload.
  const stop = subscribe("subscription { taskChanged { id stage } }", {}, () => load());
  return stop;
}

function actions(task, me) {
  const buttons = [];
  if (me.role === "agency" && task.stage === "NOTIFIED") buttons.push(["answer", "Answer (rectified)"]);
  if (SUPERVISORS.includes(me.role)) {
    if (task.stage === "RECTIFYING") buttons.push(["revisit", "Revisit"]);
    if (task.stage === "REVISITED") buttons.push(["close", "Close 销号"], ["return", "Return"]);
  }
  if (!buttons.length) return "";
  // A supervision model's finding task needs its disposal when it is closed (已吊销, 已注销,
  // 已责令整改, 核实正常经营, …); other tasks leave it empty.
  const disposal = task.stage === "REVISITED" ? '<input name="disposal" placeholder="disposal (finding tasks)" data-testid="disposal">' : "";
  return `<form class="step" data-task="${escapeHtml(task.id)}"><input name="note" placeholder="note" data-testid="note">${disposal}${buttons
    .map(([value, text]) => `<button name="action" value="${value}" data-testid="${value}">${text}</button>`)
    .join("")}</form>`;
}

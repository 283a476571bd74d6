// Tasks: the supervision tasks (督办) board by stage, overdue first, with each task's history.
// An agency answers its tasks; supervisors revisit, close or return them.
import { escapeHtml, explain, gql, subscribe } from "./api.js";

const STAGES = ["NOTIFIED", "RECTIFYING", "REVISITED", "CLOSED"];
const SUPERVISORS = ["admin", "plc", "procurator", "discipline", "congress"];
const TASK = "id title department deadline stage overdue openedBy town regionCode history { at actor role action note }";

export async function tasksView(el, _params, me) {
  el.innerHTML = `<div id="board" class="board" data-testid="board"></div>`;
  const board = el.querySelector("#board");
  const load = async () => {
    let tasks;
    try {
      tasks = (await gql(`{ supervisionTasks(first: 100) { totalCount nodes { ${TASK} } } }`)).supervisionTasks.nodes;
    } catch (error) {
      board.innerHTML = explain(error, "supervision tasks");
      return;
    }
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
        try {
          await gql(`mutation($id: ID!, $note: String${action === "answer" || action === "return" ? "!" : ""}) {
            ${action}SupervisionTask(id: $id, note: $note) { id stage } }`, { id: form.dataset.task, note: note || null });
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
  return `<form class="step" data-task="${escapeHtml(task.id)}"><input name="note" placeholder="note" data-testid="note">${buttons
    .map(([value, text]) => `<button name="action" value="${value}" data-testid="${value}">${text}</button>`)
    .join("")}</form>`;
}

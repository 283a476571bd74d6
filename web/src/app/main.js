// 一屏掌控全局: the command screen. Views are URLs (#/chain?case=…, #/towns?month=…,
// #/tasks, #/stats) that can be shared; each shows only what the API gives the viewer's role.
import "./app.css";
import { escapeHtml, gql, onLiveState, session } from "./api.js";
import { chainView } from "./chain.js";
import { townsView } from "./towns.js";
import { tasksView } from "./tasks.js";
import { statsView } from "./stats.js";

const root = document.getElementById("app");
const views = { chain: chainView, towns: townsView, tasks: tasksView, stats: statsView };
let me = null;
let leave = null;

function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { name: path || "chain", params: new URLSearchParams(query) };
}

async function signInView() {
  const reason = session.takeReason();
  root.innerHTML = `
    <main class="signin">
      <h1>牵串 Qianchuan</h1>
      <p>Sign in with a token (JWT) of your role.</p>
      ${reason ? `<p class="notice error" data-testid="signin-reason">${escapeHtml(reason)}</p>` : ""}
      <form id="signin"><textarea name="token" rows="4" placeholder="eyJ…" data-testid="token"></textarea>
      <button type="submit">Sign in</button></form>
      <div id="demo"></div>
    </main>`;
  root.querySelector("#signin").addEventListener("submit", (e) => {
    e.preventDefault();
    session.signIn(new FormData(e.target).get("token"));
    location.hash = "#/chain";
  });
  // serve --demo on a loopback address offers its role tokens.
  // A role button lands on the chain of a case across all five systems.
  const demo = await fetch("/demo/tokens").then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if (demo) {
    root.querySelector("#demo").innerHTML =
      `<p>Demo roles:</p>` +
      Object.keys(demo.roles)
        .map((role) => `<button class="role" data-role="${escapeHtml(role)}">${escapeHtml(role)}</button>`)
        .join(" ");
    root.querySelectorAll("button.role").forEach((b) =>
      b.addEventListener("click", async () => {
        session.signIn(demo.roles[b.dataset.role]);
        let target = "#/chain";
        if (demo.chain) {
          const found = await gql(`query($s: Source!, $k: String!) { caseBySourceKey(source: $s, sourceKey: $k) { id } }`, {
            s: demo.chain.source,
            k: demo.chain.sourceKey,
          }).catch(() => null);
          if (found?.caseBySourceKey) target = `#/chain?case=${encodeURIComponent(found.caseBySourceKey.id)}`;
        }
        location.hash = target;
      }),
    );
  }
}

let renders = 0;
async function render() {
  const mine = ++renders;
  if (leave) {
    leave();
    leave = null;
  }
  const { name, params } = route();
  if (name === "signin" || !session.token) {
    me = null;
    return signInView();
  }
  if (!me) {
    try {
      me = (await gql("{ me { sub role regions } }")).me;
    } catch (error) {
      // A refused token has already sent the page to #/signin, which shows the reason.
      if (error.code !== "UNAUTHENTICATED") return signInView();
      return;
    }
  }
  const view = views[name] ?? chainView;
  root.innerHTML = `
    <header>
      <strong>牵串</strong>
      <nav>${Object.keys(views)
        .map((v) => `<a href="#/${v}" class="${v === name ? "active" : ""}" data-testid="nav-${v}">${label[v]}</a>`)
        .join("")}</nav>
      <span class="who" data-testid="who">${escapeHtml(me.sub)} · <b>${escapeHtml(me.role)}</b> · ${escapeHtml(me.regions.join(", ") || "all regions")}</span>
      <span class="live" id="live" data-testid="live">live</span>
      <button id="signout">Sign out</button>
    </header>
    <section id="view"></section>`;
  root.querySelector("#signout").addEventListener("click", () => {
    session.signOut();
    location.hash = "#/signin";
  });
  const stop = await view(root.querySelector("#view"), params, me);
  // A later navigation rendered another view meanwhile: this one is already gone.
  if (mine !== renders) stop();
  else leave = stop;
}

const label = { chain: "Chain 牵一串", towns: "Towns 一镇一指数", tasks: "Tasks 督办", stats: "Aggregates 统计" };

onLiveState((state) => {
  const badge = document.getElementById("live");
  if (badge) {
    badge.textContent = state === "connected" ? "live" : "reconnecting… (read-only)";
    badge.className = `live ${state}`;
  }
});
window.addEventListener("hashchange", render);
render();

// The page's one way to the gateway: GraphQL over HTTP with the signed-in token, and
// subscriptions over /graphql/ws (graphql-ws, reconnecting by itself).
import { createClient } from "graphql-ws";

const KEY = "qianchuan:token";

export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(KEY);
  },
  signIn(token) {
    sessionStorage.setItem(KEY, token.trim());
  },
  signOut(reason) {
    sessionStorage.removeItem(KEY);
    if (reason) sessionStorage.setItem("qianchuan:signed-out", reason);
    closeLive();
  },
  takeReason() {
    const reason = sessionStorage.getItem("qianchuan:signed-out");
    sessionStorage.removeItem("qianchuan:signed-out");
    return reason;
  },
};

/** Runs a query or mutation; throws ApiError with the first error's extensions.code. */
export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${session.token}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    throw new ApiError("NETWORK", `the gateway cannot be reached (${e.message})`);
  }
  const body = await response.json().catch(() => ({}));
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? "INTERNAL";
    if (code === "UNAUTHENTICATED") {
      session.signOut(`the token was refused: ${error.message} (expired, malformed or revoked)`);
      location.hash = "#/signin";
    }
    throw new ApiError(code, error.message);
  }
  return body.data;
}

let live = null;
const liveListeners = new Set();
export function onLiveState(listener) {
  liveListeners.add(listener);
  return () => liveListeners.delete(listener);
}
function liveState(state) {
  liveListeners.forEach((l) => l(state));
}

function client() {
  if (!live) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    live = createClient({
      url: `${scheme}://${location.host}/graphql/ws`,
      connectionParams: () => ({ Authorization: `Bearer ${session.token}` }),
      retryAttempts: Infinity,
      shouldRetry: () => true,
      retryWait: async (n) => new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** n, 10000))),
      on: {
        connected: () => liveState("connected"),
        closed: () => liveState("reconnecting"),
      },
    });
  }
  return live;
}

function closeLive() {
  if (live) {
    live.dispose();
    live = null;
  }
}

/** Subscribes; returns a function that stops it. The client retries a dropped connection by
 * itself; a subscription that ends in an error anyway (a close the protocol calls fatal) is
 * started again a few seconds later, until stopped. */
export function subscribe(query, variables, next) {
  let stopped = false;
  let stop = () => {};
  const start = () => {
    stop = client().subscribe(
      { query, variables },
      {
        next: (m) => m.data && next(m.data),
        error: () => {
          liveState("reconnecting");
          if (!stopped) setTimeout(() => !stopped && start(), 3000);
        },
        complete: () => {},
      },
    );
  };
  start();
  return () => {
    stopped = true;
    stop();
  };
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** A plain explanation instead of an empty view. */
export function explain(error, what) {
  if (error.code === "FORBIDDEN") {
    return `<p class="notice" data-testid="forbidden">Your role may not see ${escapeHtml(what)}. Ask for a token of a role that does (see the README, “Roles and scope”).</p>`;
  }
  return `<p class="notice error">${escapeHtml(what)}: ${escapeHtml(error.message)}</p>`;
}

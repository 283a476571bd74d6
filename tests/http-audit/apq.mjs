// Apollo Client's persisted-query link against a running gateway: the first request of a
// query sends its hash alone, gets PERSISTED_QUERY_NOT_FOUND and sends the query with it;
// a later client sends the hash alone and gets data (over POST and, with
// useGETForHashedQueries, over GET). Every request's body is recorded and checked.
// Usage: node apq.mjs URL TOKEN
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error("usage: node apq.mjs URL TOKEN");
  process.exit(2);
}
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

function client(sent, useGET) {
  const recording = async (input, init) => {
    const target = new URL(typeof input === "string" ? input : input.url);
    sent.push({
      method: init?.method ?? "GET",
      body: init?.body ? JSON.parse(init.body) : Object.fromEntries(target.searchParams),
    });
    return fetch(input, init);
  };
  const http = new HttpLink({ uri: url, headers: { authorization: `Bearer ${token}` }, fetch: recording });
  return new ApolloClient({
    link: new PersistedQueryLink({ sha256, useGETForHashedQueries: useGET }).concat(http),
    cache: new InMemoryCache(),
  });
}

const failures = [];
const check = (ok, what) => (ok ? console.log(`ok   ${what}`) : failures.push(what) && console.log(`FAIL ${what}`));
// Unique per run, so that a hash remembered in Redis by an earlier run does not hide the
// first round trip.
const query = gql`query ApqMe { me { sub role } } # ${Date.now()}-${Math.random()}`;

const first = [];
const a = await client(first, false).query({ query, fetchPolicy: "network-only" });
check(a.data?.me?.role === "admin", "the first client gets data");
check(first.length === 2, `the first client sent two requests (sent ${first.length})`);
check(first[0] && !first[0].body.query && first[0].body.extensions?.persistedQuery, "the first request carried the hash alone");
check(first[1]?.body.query && first[1].body.extensions?.persistedQuery, "the retry carried the query with its hash");

for (const useGET of [false, true]) {
  const sent = [];
  const b = await client(sent, useGET).query({ query, fetchPolicy: "network-only" });
  check(b.data?.me?.role === "admin", `a later client gets data (${useGET ? "GET" : "POST"})`);
  check(sent.length === 1 && !sent[0].body.query, `a later client sent the hash alone, once (${sent.length} requests)`);
  check(sent[0]?.method === (useGET ? "GET" : "POST"), `over ${useGET ? "GET" : "POST"} (${sent[0]?.method})`);
}

if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("Apollo Client's persisted queries work against the gateway");

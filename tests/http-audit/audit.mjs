// Runs the GraphQL over HTTP audit suite of the npm package `graphql-http`
// (`auditServer`) against a running gateway. Usage:
//   node audit.mjs http://127.0.0.1:8080/graphql <token>
// Exits non-zero when any audit reports an error or a warning.
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node audit.mjs URL TOKEN');
  process.exit(2);
}
const fetchFn = (input, init = {}) =>
  fetch(input, { ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${token}` } });

const results = await auditServer({ url, fetchFn });
let failed = 0;
for (const r of results) {
  if (r.status !== 'ok') {
    failed += 1;
    console.log(`${r.status.toUpperCase()} ${r.id} ${r.name}: ${r.reason}`);
  }
}
const ok = results.length - failed;
console.log(`graphql-http audit: ${ok} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

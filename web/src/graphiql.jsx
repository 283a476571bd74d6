// GraphiQL for /graphql, bundled (no CDN): queries and mutations over HTTP, subscriptions over
// /graphql/ws (graphql-transport-ws). The token is pasted into the headers pane, as
// {"Authorization": "Bearer …"}; it is sent with every request and in connection_init.
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { createClient } from "graphql-ws";
import "graphiql/style.css";

const http = `${location.origin}/graphql`;
const ws = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql/ws`;

// The headers pane's Authorization, for the WebSocket's connection_init.
let headers = {};
const fetcher = createGraphiQLFetcher({
  url: http,
  wsClient: createClient({
    url: ws,
    lazy: true,
    retryAttempts: Infinity,
    connectionParams: () => ({ Authorization: headers.Authorization ?? headers.authorization ?? "" }),
  }),
});

function App() {
  return (
    <GraphiQL
      fetcher={(params, options) => {
        headers = options?.headers ?? {};
        return fetcher(params, options);
      }}
      defaultHeaders={'{"Authorization": "Bearer "}'}
      shouldPersistHeaders={true}
    />
  );
}

createRoot(document.getElementById("graphiql")).render(<App />);

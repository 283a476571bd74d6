// Builds the gateway's browser assets into dist/ with fixed names (the binary embeds them by
// name), one self-contained bundle per page: `vite build --mode graphiql` (GraphiQL at
// /graphql) and `vite build --mode app` (the command screen at /). No request leaves the host
// at run time: everything a page needs is in dist/.
import { defineConfig } from "vite";

const entries = { graphiql: "src/graphiql.jsx", app: "src/app/main.js" };

export default defineConfig(({ mode }) => ({
  base: "/assets/",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    // The first build empties dist/, the second adds to it.
    emptyOutDir: mode === "graphiql",
    sourcemap: false,
    cssCodeSplit: false,
    assetsInlineLimit: 100000000,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: { [mode]: entries[mode] },
      output: {
        format: "es",
        entryFileNames: "[name].js",
        assetFileNames: `${mode}[extname]`,
        inlineDynamicImports: true,
      },
    },
  },
}));

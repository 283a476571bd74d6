// Builds the gateway's browser assets into dist/ with fixed names (the binary embeds them by
// name). No request leaves the host at run time: everything the page needs is in dist/.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/assets/",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    cssCodeSplit: false,
    assetsInlineLimit: 100000000,
    rollupOptions: {
      input: { graphiql: "src/graphiql.jsx" },
      output: {
        format: "es",
        entryFileNames: "[name].js",
        chunkFileNames: "[name].js",
        assetFileNames: "graphiql[extname]",
        inlineDynamicImports: true,
      },
    },
  },
});

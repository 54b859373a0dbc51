import { defineConfig } from "vite";

// The bundle is embedded in the plugs binary (package console) and served
// by the control plane at /, the API at /v1 on the same origin. Hashed
// file names let the server mark assets immutable; no inline script or
// style, so the Content-Security-Policy needs no 'unsafe-inline'.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // Everything inline-able goes to a file instead: CSP allows 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
  },
  server: {
    // npm run dev: the API of a running `plugs dev`.
    proxy: { "/v1": "http://127.0.0.1:8081" },
  },
});

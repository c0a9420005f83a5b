import { defineConfig } from "vite";
import { CONSOLE_DIR, consoleSourceHash } from "./source-hash.ts";

/** `npm run build:console`: builds console/ into console/dist/ (committed) for Parley to serve at /console/. */
export default defineConfig({
  root: CONSOLE_DIR,
  base: "/console/",
  // Vite's own JSX transform (oxc) with Preact's runtime: no Babel preset needed for a build.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // One small app: no inlined assets (the CSP allows only files from Parley itself).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  plugins: [
    {
      name: "parley-source-hash",
      generateBundle() {
        this.emitFile({ type: "asset", fileName: "source-hash.txt", source: `${consoleSourceHash()}\n` });
      },
    },
  ],
});

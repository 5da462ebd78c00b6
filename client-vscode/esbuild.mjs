// Bundles the extension (dist/extension.js), the in-editor tests (out/test/index.js) and, with --unit,
// the pure-function tests for node:test (out/unit/*.test.js).
import { build } from "esbuild";
import { readdirSync } from "node:fs";

const common = { bundle: true, format: "cjs", platform: "node", target: "node20", sourcemap: true, logLevel: "warning" };
if (process.argv.includes("--unit")) {
  const entries = readdirSync("test-unit").filter((f) => f.endsWith(".test.ts")).map((f) => `test-unit/${f}`);
  await build({ ...common, entryPoints: entries, outdir: "out/unit" });
} else {
  await build({ ...common, entryPoints: ["src/extension.ts"], outfile: "dist/extension.js", external: ["vscode"] });
  await build({ ...common, entryPoints: ["src/test/index.ts"], outfile: "out/test/index.js", external: ["vscode"] });
}

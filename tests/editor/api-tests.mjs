// Runs the extension's own vscode-API tests (client-vscode/out/test/index.js) inside a real VS Code
// extension host: code-server started with the smoke-test driver, which lets the page URL's payload set
// extensionDevelopmentPath and extensionTestsPath (what @vscode/test-electron does on a desktop). The
// tests' exit code comes back through window.codeAutomationExit.
//
// usage: node tests/editor/api-tests.mjs   (after scripts/editor-env.sh and `npm run package` in client-vscode)
// env: CARRYOVER_ARTIFACTS (screenshots, logs), CARRYOVER_API_TIMEOUT_S (default 600), VERBOSE=1,
// KEEP=1 keeps the temporary workspace and code-server folders
import fs from "node:fs";
import path from "node:path";
import { ROOT, ARTIFACTS, collectLogs, copyFixture, launchBrowser, log, run, startCodeServer } from "./lib.mjs";

const devPath = path.join(ROOT, "client-vscode");
const testsPath = path.join(devPath, "out", "test", "index.js");
const timeoutS = Number(process.env.CARRYOVER_API_TIMEOUT_S || 600);
const out = path.join(ARTIFACTS, "api-tests");
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

if (!fs.existsSync(testsPath)) {
  console.error(`${testsPath} missing: build the extension first (cd client-vscode && npm ci && npm run package)`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

const folder = copyFixture("optional-settings", "api-ws");
// The tests run against the repository's own daemon (.venv), not a managed environment: they test the
// extension's behaviour, the scenario tests the first-run install.
const cs = await startCodeServer({
  name: "api",
  folder,
  settings: { "carryover.serverCommand": [path.join(ROOT, ".venv", "bin", "carryover"), "serve"] },
  extraArgs: ["--vscode-option", "enable-smoke-test-driver"],
});
// Seed the pool with examples/memories.jsonl before the daemon opens it (the tests import it themselves
// into an emptier pool, but then read it back through a daemon that sees another process's writes only
// after its refresh interval).
const seeded = run(path.join(ROOT, ".venv", "bin", "carryover"), ["import", path.join(ROOT, "examples", "memories.jsonl"), "--json"],
  { env: { ...process.env, CARRYOVER_HOME: cs.dirs.carryoverHome } });
log(`seeded ${cs.dirs.carryoverHome}/pool: ${(seeded.stdout || seeded.stderr.slice(-300)).replace(/\s+/g, " ").trim()}`);
const remote = (p) => `vscode-remote://127.0.0.1:${cs.port}${p}`;
const payload = [["extensionDevelopmentPath", remote(devPath)], ["extensionTestsPath", remote(testsPath)]];

const browser = await launchBrowser();
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
const transcript = fs.createWriteStream(path.join(out, "exthost.log"));
let finish;
let counts = null; // from the tests' own closing line "EXT-TEST N passing, M failing"
const exited = new Promise((resolve) => (finish = resolve));
await page.exposeFunction("codeAutomationLog", (type, args) => {
  const line = (args || []).map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
  transcript.write(`[${type}] ${line}\n`);
  const closing = /EXT-TEST (\d+) passing, (\d+) failing/.exec(line);
  if (closing) counts = { passed: Number(closing[1]), failed: Number(closing[2]) };
  if (process.env.VERBOSE || /EXT-TEST|passing|failing|Error|assert/i.test(line)) console.log(`[exthost ${type}] ${line}`);
});
await page.exposeFunction("codeAutomationExit", (code) => finish(code));
if (process.env.VERBOSE) page.on("console", (m) => console.log("[console]", m.text().slice(0, 300)));
const started = Date.now();
await page.goto(`${cs.url}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("timeout"), timeoutS * 1000))]);
log(`extension tests exit code: ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
await page.screenshot({ path: path.join(out, "final.png") }).catch(() => {});
await browser.close();
transcript.end();
if (code !== 0) collectLogs(cs, path.join(out, "logs"));
await cs.stop();
if (!process.env.KEEP) {
  fs.rmSync(path.dirname(folder), { recursive: true, force: true });
  fs.rmSync(cs.runDir, { recursive: true, force: true });
}
// the tests' own counts when they said them; else the exit code as one test
const { passed, failed } = counts ?? (code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 });
console.log(`api-tests: ${passed} passed, ${failed + (code !== 0 && failed === 0 ? 1 : 0)} failed`);
process.exit(code === 0 ? 0 : 1);

// The README's set-up-and-run command, its editor part (scripts/demo-editor.sh), as a newcomer meets it:
//   1. without `code` on PATH: code-server on a free port with the .vsix installed and
//      examples/sample-workspace open; in the browser, hovering the marked lines of billing.py (Python)
//      and report.js (JavaScript) shows the example memories learned in other languages.
//   2. with `code` on PATH: the .vsix is installed with `code --install-extension` and the folder opened
//      with `code`. No desktop VS Code exists on these machines: the `code` used here records its
//      arguments and hands --install-extension to code-server's identical command, so the install is
//      real and is checked with --list-extensions.
//
// usage: node tests/editor/demo.mjs   (after scripts/editor-env.sh and `npm run package` in client-vscode)
// env: CARRYOVER_ARTIFACTS (screenshots, logs)
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {
  ARTIFACTS, CODE_SERVER, NODE24_BIN, ROOT, Workbench, freePort, launchBrowser, log, makeChecks, run, tempDir, waitFor,
} from "./lib.mjs";

const out = path.join(ARTIFACTS, "demo");
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const WS = path.join(ROOT, "examples", "sample-workspace");
const VSIX = path.join(ROOT, "client-vscode", "build", "carryover.vsix");
const SCRIPT = path.join(ROOT, "scripts", "demo-editor.sh");
const GUARD = "Guard optional values before indexing into them";
const SHELL = "Never build shell or SQL commands by string concatenation";

/** PATH without any directory that has a `code` (this machine has none; be sure). */
function pathWithoutCode() {
  return (process.env.PATH || "").split(":").filter((dir) => dir && !fs.existsSync(path.join(dir, "code"))).join(":");
}

const { check, summary } = makeChecks();
let demo = null;
let browser = null;
let wb = null;

try {
  await check("without `code`: the demo serves the sample workspace in code-server, hovers show memories from other languages", async () => {
    const port = await freePort();
    const logFile = path.join(out, "demo-editor.log");
    const logStream = fs.openSync(logFile, "w");
    demo = spawn("bash", [SCRIPT], {
      cwd: ROOT,
      detached: true, // its own process group: code-server, its extension host and the daemon end together
      stdio: ["ignore", logStream, logStream],
      env: { ...process.env, PATH: pathWithoutCode(), CARRYOVER_DEMO_PORT: String(port) },
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => {
      if (demo.exitCode !== null) throw new Error(`demo-editor.sh exited with ${demo.exitCode}:\n${fs.readFileSync(logFile, "utf8").slice(-1500)}`);
      return (await fetch(`${url}/healthz`).catch(() => null))?.ok;
    }, { timeoutMs: 300000, intervalMs: 500, what: `the demo's code-server on ${url}` });
    const printed = fs.readFileSync(logFile, "utf8");
    if (!printed.includes(`Open ${url}/?folder=${WS}`)) throw new Error(`the demo did not say where to open it:\n${printed.slice(-800)}`);
    const settings = JSON.parse(fs.readFileSync(path.join(WS, ".vscode", "settings.json"), "utf8"));
    const command = settings["carryover.serverCommand"];
    if (!Array.isArray(command) || !command.includes("--db")) throw new Error(`workspace settings: ${JSON.stringify(settings)}`);

    browser = await launchBrowser();
    wb = await Workbench.open(browser, url, WS, { artifacts: out });
    await wb.waitForStatusBar(/Carryover: \d+ memor/, { timeoutMs: 120000, what: "the daemon ready on the demo pool" });
    await wb.openFile("billing.py", { expectText: "CATALOG.get(sku)" });
    const python = await wb.hover('CATALOG.get(sku)["price"]', "price", { until: (t) => t.includes(GUARD), timeoutMs: 90000 });
    await wb.shot("demo-billing-py-hover");
    await wb.hideHover();
    await wb.openFile("report.js", { expectText: "execSync" });
    const javascript = await wb.hover('execSync("git log --oneline " + branch)', "execSync", { until: (t) => t.includes(SHELL), timeoutMs: 90000 });
    await wb.shot("demo-report-js-hover");
    const learned = (text) => (/learned in (\w+)/i.exec(text) || [])[1] || "?";
    return `billing.py: "${GUARD}" (learned in ${learned(python)}); report.js: "${SHELL}" (learned in ${learned(javascript)})`;
  });
} finally {
  await browser?.close().catch(() => {});
  if (demo && demo.exitCode === null) {
    try { process.kill(-demo.pid, "SIGTERM"); } catch { /* gone */ }
    await waitFor(() => demo.exitCode !== null || demo.signalCode !== null, { timeoutMs: 15000, what: "the demo to stop" })
      .catch(() => { try { process.kill(-demo.pid, "SIGKILL"); } catch { /* gone */ } });
  }
}

await check("with `code`: the demo installs the .vsix with `code --install-extension` and opens the folder with `code`", async () => {
  const dir = tempDir("carryover-demo-code");
  const calls = path.join(dir, "calls.txt");
  const extensions = path.join(dir, "extensions");
  const shim = path.join(dir, "bin", "code");
  fs.mkdirSync(path.dirname(shim), { recursive: true });
  fs.writeFileSync(shim, [
    "#!/usr/bin/env bash",
    `printf '%s\\n' "$*" >> "${calls}"`,
    `if [ "$1" = "--install-extension" ]; then exec "${CODE_SERVER}" --extensions-dir "${extensions}" --user-data-dir "${dir}/user-data" "$@"; fi`,
    "",
  ].join("\n"), { mode: 0o755 });
  const result = run("bash", [SCRIPT], {
    cwd: ROOT,
    timeout: 600000,
    env: { ...process.env, PATH: `${path.dirname(shim)}:${NODE24_BIN}:${pathWithoutCode()}` },
  });
  fs.writeFileSync(path.join(out, "demo-editor-code.log"), result.stdout + result.stderr);
  if (result.status !== 0) throw new Error(`demo-editor.sh exited with ${result.status}:\n${(result.stdout + result.stderr).slice(-1500)}`);
  const lines = fs.readFileSync(calls, "utf8").trim().split("\n");
  if (lines[0] !== `--install-extension ${VSIX} --force`) throw new Error(`first call: ${lines[0]}`);
  if (lines[1] !== WS) throw new Error(`second call: ${lines[1]}`);
  const listed = run(CODE_SERVER, ["--extensions-dir", extensions, "--list-extensions", "--show-versions"], {
    env: { ...process.env, PATH: `${NODE24_BIN}:${process.env.PATH}` },
  });
  if (!/^carryover\.carryover@/m.test(listed.stdout)) throw new Error(`not installed: ${listed.stdout}${listed.stderr}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return `code ${lines.join(" | code ")}; installed: ${listed.stdout.trim()}`;
});

const { passed, failed } = summary();
console.log(`demo: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

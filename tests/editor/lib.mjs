// A small library for driving a real VS Code (code-server, from scripts/editor-env.sh) in Debian's
// chromium through playwright-core: an isolated code-server per test, .vsix installs, and the user's
// gestures (open a file, hover, Ctrl+., the command palette, the integrated terminal) with waits on
// what the editor shows, never fixed sleeps, and a screenshot per named step.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const EDITOR_WORK = path.join(ROOT, ".work", "editor");
export const NODE24_BIN = path.join(EDITOR_WORK, "node24", "bin");
export const CODE_SERVER = path.join(EDITOR_WORK, "cs", "node_modules", ".bin", "code-server");
export const CHROMIUM = process.env.CARRYOVER_CHROMIUM || "/usr/bin/chromium";
export const ARTIFACTS = path.resolve(process.env.CARRYOVER_ARTIFACTS || path.join(ROOT, ".artifacts", "editor"));

const T0 = Date.now();
export function log(...args) {
  console.log(`[${((Date.now() - T0) / 1000).toFixed(1)}s]`, ...args);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll ``fn`` until it returns a truthy value; throw ``what`` after ``timeoutMs``. An error thrown by
 * ``fn`` counts as "not yet", unless it has ``fatal`` set (see ``fatal()``). */
export async function waitFor(fn, { timeoutMs = 30000, intervalMs = 250, what = "condition" } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      if (error?.fatal) throw error;
      last = error;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` + (last instanceof Error ? `: ${last.message}` : ""));
    await sleep(intervalMs);
  }
}

/** An error that stops ``waitFor`` at once. */
export function fatal(message) {
  return Object.assign(new Error(message), { fatal: true });
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A fresh temporary folder under the system temp dir. */
export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `carryover-${prefix}-`));
}

/** Copy a fixture folder of tests/editor/fixtures (or any folder) to a fresh temp dir. */
export function copyFixture(source, prefix = "ws") {
  const from = path.isAbsolute(source) ? source : path.join(ROOT, "tests", "editor", "fixtures", source);
  const to = path.join(tempDir(prefix), path.basename(from));
  fs.cpSync(from, to, { recursive: true });
  return to;
}

// Settings that keep the workbench quiet and predictable in a test (no tours, no updates, no AI panel),
// make the integrated terminal bash with VS Code's shell integration, and render the terminal with the
// DOM renderer so that its text can be read.
export const BASE_SETTINGS = {
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "editor.hover.delay": 200,
  "editor.minimap.enabled": false,
  "files.autoSave": "off",
  "terminal.integrated.defaultProfile.linux": "bash",
  "terminal.integrated.profiles.linux": { bash: { path: "/bin/bash", args: [] } },
  "terminal.integrated.shellIntegration.enabled": true,
  "terminal.integrated.shellIntegration.decorationsEnabled": "both",
  "terminal.integrated.gpuAcceleration": "off",
  "terminal.integrated.enablePersistentSessions": false,
  "terminal.integrated.hideOnStartup": "always",
};

/**
 * Start an isolated code-server: its own config, user-data-dir, extensions-dir, HOME, XDG_* and
 * CARRYOVER_HOME, bound to 127.0.0.1 on a free port, in its own process group.
 * Returns { url, port, runDir, dirs, env, stop(), logs() }.
 */
export async function startCodeServer({
  name = "cs",
  runDir = tempDir(name),
  settings = {},
  vsix = [],
  carryoverHome = path.join(runDir, "carryover-home"),
  extraArgs = [],
  extraEnv = {},
  folder,
} = {}) {
  if (!fs.existsSync(CODE_SERVER)) throw new Error(`${CODE_SERVER} missing: run scripts/editor-env.sh first`);
  const dirs = {
    home: path.join(runDir, "home"),
    userData: path.join(runDir, "user-data"),
    extensions: path.join(runDir, "extensions"),
    carryoverHome,
  };
  for (const dir of [dirs.home, path.join(dirs.userData, "User"), dirs.extensions, carryoverHome]) fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dirs.userData, "User", "settings.json"), JSON.stringify({ ...BASE_SETTINGS, ...settings }, null, 2));
  const port = await freePort();
  const config = path.join(runDir, "config.yaml");
  fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);

  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("VSCODE_") || key.startsWith("ELECTRON_")) delete env[key];
  Object.assign(env, {
    PATH: `${NODE24_BIN}:${process.env.PATH}`,
    HOME: dirs.home,
    XDG_CONFIG_HOME: path.join(dirs.home, ".config"),
    XDG_DATA_HOME: path.join(dirs.home, ".local", "share"),
    XDG_CACHE_HOME: path.join(dirs.home, ".cache"),
    XDG_STATE_HOME: path.join(dirs.home, ".local", "state"),
    CARRYOVER_HOME: carryoverHome,
    SHELL: "/bin/bash",
    // pip's cache outlives the run so that the extension's first-run install is fast the second time
    PIP_CACHE_DIR: process.env.PIP_CACHE_DIR || path.join(EDITOR_WORK, "pip-cache"),
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    ...extraEnv,
  });
  const common = ["--config", config, "--user-data-dir", dirs.userData, "--extensions-dir", dirs.extensions];
  for (const file of [].concat(vsix)) {
    const started = Date.now();
    const result = spawnSync(CODE_SERVER, [...common, "--install-extension", file], { env, encoding: "utf8", timeout: 180000 });
    fs.appendFileSync(path.join(runDir, "install.log"), `${result.stdout}\n${result.stderr}\n`);
    if (result.status !== 0) throw new Error(`installing ${file} failed (${result.status}): ${result.stderr || result.stdout}`);
    log(`installed ${path.basename(file)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const serverLog = path.join(runDir, "server.log");
  const out = fs.openSync(serverLog, "a");
  const args = [
    ...common, "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
    "--disable-getting-started-override", "--disable-proxy", ...extraArgs,
  ];
  if (folder) args.push(folder);
  // detached: the server leads a new process group; stop() ends the group (extension host, daemon, shells)
  const child = spawn(CODE_SERVER, args, { env, detached: true, stdio: ["ignore", out, out] });
  fs.closeSync(out);
  const pgid = child.pid;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", killNow);
    try { process.kill(-pgid, "SIGTERM"); } catch { return; }
    const end = Date.now() + 10000;
    while (Date.now() < end) {
      try { process.kill(-pgid, 0); } catch { return; }
      await sleep(200);
    }
    try { process.kill(-pgid, "SIGKILL"); } catch { /* gone */ }
  };
  const killNow = () => { try { process.kill(-pgid, "SIGKILL"); } catch { /* gone */ } };
  process.on("exit", killNow);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`)).ok, { timeoutMs: 60000, what: `code-server on ${url}` });
  log(`code-server up at ${url} (run dir ${runDir})`);
  return { url, port, runDir, dirs, env, stop, serverLog, common };
}

/** Files worth keeping when a test fails: code-server's log, its per-session logs (extension host,
 * output channels such as the extension's and the language server's), the settings. */
export function collectLogs(cs, into) {
  fs.mkdirSync(into, { recursive: true });
  const copy = (from, to) => { try { fs.cpSync(from, path.join(into, to), { recursive: true }); } catch { /* missing */ } };
  copy(cs.serverLog, "code-server.log");
  copy(path.join(cs.runDir, "install.log"), "install.log");
  copy(path.join(cs.dirs.userData, "logs"), "vscode-logs");
  copy(path.join(cs.dirs.userData, "User", "settings.json"), "settings.json");
  log(`logs copied to ${into}`);
}

export const BROWSER_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-dev-shm-usage",
];

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
}

/** The workbench in one browser page, with the gestures a user makes. */
export class Workbench {
  constructor(page, { artifacts = ARTIFACTS } = {}) {
    this.page = page;
    this.artifacts = artifacts;
    this.step = 0;
    fs.mkdirSync(artifacts, { recursive: true });
  }

  static async open(browser, url, folder, { payload, artifacts, viewport = { width: 1440, height: 900 } } = {}) {
    const page = await browser.newPage({ viewport });
    page.on("pageerror", (error) => log("pageerror:", String(error).slice(0, 200)));
    const wb = new Workbench(page, { artifacts });
    let target = `${url}/?folder=${encodeURIComponent(folder)}`;
    if (payload) target += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(target, { waitUntil: "domcontentloaded" });
    await page.waitForSelector(".monaco-workbench", { timeout: 90000 });
    log("workbench up");
    return wb;
  }

  /** Save a screenshot as NN-name.png in the artefacts folder. */
  async shot(name) {
    this.step += 1;
    const file = path.join(this.artifacts, `${String(this.step).padStart(2, "0")}-${name}.png`);
    await this.page.screenshot({ path: file });
    log("screenshot", path.relative(ROOT, file));
    return file;
  }

  async escape(times = 1) {
    for (let i = 0; i < times; i++) await this.page.keyboard.press("Escape");
  }

  editorLines() {
    return this.page.locator(".editor-instance .monaco-editor .view-lines").first();
  }

  /** Text of the visible lines of the active editor (spaces as in the file), top to bottom. Monaco
   * reuses line elements after an edit, so their order in the DOM is not the order on screen: sort
   * them by their position. */
  async editorText() {
    const text = await this.editorLines().evaluate((lines) =>
      [...lines.querySelectorAll(".view-line")]
        .map((line) => ({ top: parseFloat(line.style.top) || 0, text: line.textContent || "" }))
        .sort((a, b) => a.top - b.top)
        .map((line) => line.text)
        .join("\n"));
    return text.replace(/\u00a0/g, " ");
  }

  /** Open a file: click it in the explorer; Quick Open (Ctrl+P) when it is not listed. */
  async openFile(name, { expectText } = {}) {
    const item = this.page.locator(`.explorer-folders-view .monaco-list-row[aria-label^="${name}"]`).first();
    try {
      await item.waitFor({ timeout: 20000 });
      await item.click();
      log(`opened ${name} from the explorer`);
    } catch {
      log(`${name} not in the explorer; Quick Open`);
      await this.page.keyboard.press("Control+p");
      const input = this.page.locator(".quick-input-widget input").first();
      await input.waitFor({ timeout: 10000 });
      await input.fill(name);
      await this.page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first().waitFor({ timeout: 10000 });
      await this.page.keyboard.press("Enter");
    }
    await this.page.locator(`.tabs-container .tab[aria-label^="${name}"]`).first().waitFor({ timeout: 20000 });
    if (expectText) {
      await waitFor(async () => (await this.editorText()).includes(expectText), { timeoutMs: 20000, what: `${name} showing "${expectText}"` });
    }
    await this.editorLines().click({ position: { x: 5, y: 5 } });
  }

  /** Run a command from the command palette (F1), by its title as the palette lists it. */
  async runCommand(title, { timeoutMs = 15000 } = {}) {
    for (let attempt = 0; attempt < 2; attempt++) {
      await this.page.keyboard.press("F1");
      const input = this.page.locator(".quick-input-widget input").first();
      await input.waitFor({ timeout: 10000 });
      await input.fill(`>${title}`);
      const row = this.page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
      try {
        await row.waitFor({ timeout: timeoutMs });
        await row.click();
        log(`ran command "${title}"`);
        return;
      } catch (error) {
        await this.escape();
        if (attempt === 1) throw new Error(`command "${title}" not in the palette: ${error.message}`);
      }
    }
  }

  /** Put the cursor on a 1-based line (Ctrl+G). */
  async gotoLine(line, column = 1) {
    await this.page.keyboard.press("Control+g");
    const input = this.page.locator(".quick-input-widget input").first();
    await input.waitFor({ timeout: 10000 });
    await input.fill(`:${line}:${column}`);
    await this.page.keyboard.press("Enter");
  }

  /** Replace the whole of a 1-based line with ``text`` by typing it, as a user would. */
  async replaceLine(line, text) {
    await this.gotoLine(line);
    await this.page.keyboard.press("End");
    await this.page.keyboard.press("Shift+Home");
    await this.page.keyboard.press("Shift+Home"); // twice: the first stops at the indentation
    await this.page.keyboard.type(text, { delay: 5 });
  }

  async save() {
    await this.page.keyboard.press("Control+s");
    await waitFor(async () => (await this.page.locator(".tabs-container .tab.active.dirty").count()) === 0, { timeoutMs: 10000, what: "the file to be saved" });
  }

  /** The DOM node of the rendered view line that contains ``snippet``. */
  viewLine(snippet) {
    return this.page.locator(".editor-instance .view-lines .view-line", { hasText: snippet }).first();
  }

  /** Pixel position of the character ``offset`` in ``token`` on the view line containing ``snippet``. */
  async tokenPoint(snippet, token, offset = 1) {
    const line = this.viewLine(snippet);
    await line.waitFor({ timeout: 15000 });
    return line.evaluate((element, [tok, off]) => {
      const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent.replace(/\u00a0/g, " ");
        const at = text.indexOf(tok);
        if (at >= 0) {
          const range = document.createRange();
          range.setStart(node, at + off);
          range.setEnd(node, at + off + 1);
          const rect = range.getBoundingClientRect();
          return { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 };
        }
      }
      // the token spans several spans: take the line's own text
      const full = element.textContent.replace(/\u00a0/g, " ");
      const at = full.indexOf(tok);
      if (at < 0) return null;
      const box = element.getBoundingClientRect();
      const charWidth = box.width / Math.max(full.length, 1);
      return { x: box.left + charWidth * (at + off + 0.5), y: box.top + box.height / 2 };
    }, [token, offset]);
  }

  /**
   * Hover over ``token`` on the line containing ``snippet`` with the mouse and return the text of
   * the hover once ``until(text)`` holds. The mouse is moved away and back between tries; the
   * keyboard hover (Ctrl+K Ctrl+I) is the last resort.
   */
  async hover(snippet, token, { until = (text) => text.length > 0, timeoutMs = 60000, attemptMs = 5000 } = {}) {
    const end = Date.now() + timeoutMs;
    const hoverBox = this.page.locator(".monaco-hover:not(.hidden) .monaco-hover-content, .monaco-hover:not(.hidden) .hover-contents").first();
    let last = "";
    for (let attempt = 0; Date.now() < end; attempt++) {
      const point = await this.tokenPoint(snippet, token, Math.min(2, token.length - 1));
      if (!point) throw new Error(`"${token}" not on a visible line with "${snippet}"`);
      await this.page.mouse.move(point.x - 2, point.y);
      await this.page.mouse.move(point.x, point.y);
      if (attempt % 3 === 2) {
        await this.page.mouse.click(point.x, point.y);
        await this.page.keyboard.press("Control+k");
        await this.page.keyboard.press("Control+i");
      }
      const stop = Date.now() + attemptMs;
      while (Date.now() < stop) {
        if (await hoverBox.isVisible().catch(() => false)) {
          last = (await hoverBox.innerText().catch(() => "")).trim();
          if (until(last)) return last;
        }
        await sleep(200);
      }
      await this.page.mouse.move(5, 400);
      await this.escape();
      await sleep(300);
    }
    throw new Error(`hover over "${token}" never showed what was expected; last hover text: ${JSON.stringify(last)}`);
  }

  async hideHover() {
    await this.page.mouse.move(5, 400);
    await this.escape();
  }

  /** Click on ``token`` (puts the cursor there). */
  async clickToken(snippet, token, offset = 1) {
    const point = await this.tokenPoint(snippet, token, offset);
    if (!point) throw new Error(`"${token}" not on a visible line with "${snippet}"`);
    await this.page.mouse.click(point.x, point.y);
  }

  /** The code-action menu's titles after Ctrl+. (waits for the light bulb first, retries once). */
  async openCodeActions(snippet, token, expected, { timeoutMs = 30000 } = {}) {
    const matches = typeof expected === "string" ? (t) => t.includes(expected) : expected;
    const end = Date.now() + timeoutMs;
    for (let attempt = 0; Date.now() < end; attempt++) {
      await this.clickToken(snippet, token, 1);
      await this.page.locator(".editor-instance .lightBulbWidget, .editor-instance .codicon-light-bulb, .editor-instance .codicon-lightbulb-autofix")
        .first().waitFor({ state: "visible", timeout: 8000 }).catch(() => log("no light bulb seen (yet)"));
      await this.page.keyboard.press("Control+.");
      const rows = this.page.locator(".action-widget .monaco-list-row");
      try {
        await rows.first().waitFor({ timeout: 5000 });
        const titles = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, " ").trim());
        if (titles.some(matches)) return titles;
        log(`code actions (attempt ${attempt + 1}): ${JSON.stringify(titles)}`);
      } catch {
        log(`code-action menu not shown (attempt ${attempt + 1})`);
      }
      await this.escape();
      await sleep(1000);
    }
    throw new Error(`no code action matching ${expected} on "${snippet}"`);
  }

  /** Pick an entry of the open code-action menu by (part of) its title. */
  async pickCodeAction(title) {
    const row = this.page.locator(".action-widget .monaco-list-row", { hasText: title }).first();
    await row.waitFor({ timeout: 5000 });
    await row.click();
    log(`picked code action "${title}"`);
  }

  /** Text of the status bar item whose text matches ``pattern``, or null. */
  async statusBarText(pattern) {
    const texts = await this.page.locator(".statusbar-item").allInnerTexts().catch(() => []);
    return texts.map((t) => t.replace(/\s+/g, " ").trim()).find((t) => pattern.test(t)) ?? null;
  }

  async waitForStatusBar(pattern, { timeoutMs = 600000, what } = {}) {
    return waitFor(() => this.statusBarText(pattern), { timeoutMs, intervalMs: 1000, what: what || `status bar ${pattern}` });
  }

  /** Open a new integrated terminal (bash) and wait for its prompt. */
  async newTerminal() {
    await this.runCommand("Terminal: Create New Terminal");
    const rows = this.page.locator(".terminal-wrapper.active .xterm-rows").first();
    await rows.waitFor({ timeout: 30000 });
    await waitFor(async () => /[$#]\s*$/m.test((await rows.innerText()).replace(/\u00a0/g, " ")), { timeoutMs: 30000, what: "a shell prompt" });
    log("terminal ready");
  }

  async terminalText() {
    return (await this.page.locator(".terminal-wrapper.active .xterm-rows").first().innerText()).replace(/\u00a0/g, " ");
  }

  /** Shell-integration decorations in the terminal gutter: one per finished command. */
  async terminalDecorations() {
    return this.page.locator(".terminal-wrapper.active .terminal-command-decoration").evaluateAll((nodes) =>
      nodes.map((n) => (n.className.includes("error") ? "error" : n.className.includes("success") ? "success" : "other")));
  }

  /**
   * Type a command into the active terminal and wait until shell integration reports it finished
   * (a new success or error decoration). Returns "success" or "error".
   */
  async runInTerminal(command, { timeoutMs = 60000 } = {}) {
    const before = (await this.terminalDecorations()).filter((d) => d !== "other").length;
    await this.page.locator(".terminal-wrapper.active .xterm").first().click();
    await this.page.keyboard.type(command, { delay: 10 });
    await this.page.keyboard.press("Enter");
    const result = await waitFor(async () => {
      const marks = (await this.terminalDecorations()).filter((d) => d !== "other");
      return marks.length > before ? marks[marks.length - 1] : null;
    }, { timeoutMs, what: `shell integration to report the end of \`${command}\`` });
    log(`terminal: \`${command}\` -> ${result}`);
    return result;
  }
}

/** Run a command to completion; return {status, stdout, stderr}. */
export function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: "utf8", timeout: 120000, ...options });
  return { status: result.status, stdout: result.stdout || "", stderr: result.stderr || "" };
}

/** Tiny test bookkeeping: check(name, fn) runs and records; summary() prints "N passed, M failed". */
export function makeChecks({ onFail } = {}) {
  const results = [];
  return {
    results,
    async check(name, fn) {
      const started = Date.now();
      try {
        const detail = await fn();
        results.push({ name, ok: true });
        log(`PASS ${name}${detail ? `: ${String(detail).slice(0, 300)}` : ""} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        return true;
      } catch (error) {
        results.push({ name, ok: false, error: String(error?.message || error) });
        log(`FAIL ${name}: ${error?.stack || error}`);
        if (onFail) await Promise.resolve(onFail(name, error)).catch(() => {});
        return false;
      }
    },
    summary() {
      const passed = results.filter((r) => r.ok).length;
      return { passed, failed: results.length - passed };
    },
  };
}

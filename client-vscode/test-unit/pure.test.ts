// Pure-function tests (node:test), bundled by `node esbuild.mjs --unit` and run by `npm run test:unit`.
import * as assert from "node:assert/strict";
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { DAEMON_MODULES, EMBEDDER_MODULE, EMBEDDER_REQUIREMENT, installedEnvironment, sha256, stampMatches, venvPaths } from "../src/environment";
import type { Memory } from "../src/memory";
import { ago, memoryMarkdown, provenanceLine } from "../src/memoryDocument";
import { API_KEY_VARIABLE, DEFAULTS, daemonEnvironment, needsRestart, readSettings, toDaemonSettings } from "../src/settings";
import { boundOutput, OutputCollector, stripAnsi } from "../src/terminalOutput";

const config = (values: Record<string, unknown>) => ({ get: (key: string): unknown => values[key] });

void test("settings: defaults, nested surfaces and capture, wrong types fall back", () => {
  const settings = readSettings(config({}));
  assert.deepEqual(settings, DEFAULTS);
  const read = readSettings(
    config({
      endpoint: " http://127.0.0.1:8080/v1 ",
      "surfaces.inlayHints": true,
      "surfaces.hover": "yes",
      maxResults: 99,
      relevanceThreshold: 0.5,
      scopes: ["global", "bogus"],
      serverCommand: ["/x/carryover", "serve", ""],
      logLevel: "loud",
      "capture.terminal": false,
    }),
  );
  assert.equal(read.endpoint, "http://127.0.0.1:8080/v1");
  assert.equal(read.surfaces.inlayHints, true);
  assert.equal(read.surfaces.hover, true);
  assert.equal(read.maxResults, 3);
  assert.equal(read.relevanceThreshold, 0.5);
  assert.deepEqual(read.scopes, ["global"]);
  assert.deepEqual(read.serverCommand, ["/x/carryover", "serve"]);
  assert.equal(read.logLevel, "info");
  const daemon = toDaemonSettings(read);
  assert.equal(daemon.capture, true, "diagnostics capture still on");
  assert.equal(toDaemonSettings({ ...read, capture: { terminal: false, diagnostics: false } }).capture, false);
  assert.deepEqual(Object.keys(daemon).sort(), [
    "capture", "embedAhead", "endpoint", "exclude", "judge", "logLevel", "maxResults", "model", "relevanceThreshold", "scopes",
    "strongThreshold", "surfaces",
  ]);
  assert.deepEqual(daemon.judge, DEFAULTS.judge, "the judge is off by default");
  const judged = readSettings(
    config({ "judge.enabled": true, "judge.endpoint": " http://127.0.0.1:9/v1 ", "judge.candidates": 99, "judge.timeoutMs": 2000 }),
  );
  assert.deepEqual(toDaemonSettings(judged).judge, {
    enabled: true, endpoint: "http://127.0.0.1:9/v1", model: "", candidates: 30, timeoutMs: 2000, maxTokens: 400,
  });
  // the key travels in the daemon's environment only, never in a message
  assert.ok(!JSON.stringify(daemon).includes("sk-test"));
  assert.equal(daemonEnvironment({ PATH: "/bin" }, "sk-test")[API_KEY_VARIABLE], "sk-test");
  assert.deepEqual(daemonEnvironment({ PATH: "/bin" }, ""), { PATH: "/bin" });
  assert.deepEqual(Object.keys(daemon.surfaces).sort(), ["codeActions", "codeLens", "diagnostics", "hover", "inlayHints"]);
});

void test("settings: which changes restart the daemon", () => {
  const base = readSettings(config({}));
  assert.equal(needsRestart(base, "", { ...base, maxResults: 5 }, ""), false);
  assert.equal(needsRestart(base, "", { ...base, surfaces: { ...base.surfaces, hover: false } }, ""), false);
  assert.equal(needsRestart(base, "", { ...base, endpoint: "http://x" }, ""), true);
  assert.equal(needsRestart(base, "", { ...base, model: "m" }, ""), true);
  assert.equal(needsRestart(base, "", { ...base, pythonPath: "/usr/bin/python3" }, ""), true);
  assert.equal(needsRestart(base, "", { ...base, serverCommand: ["a"] }, ""), true);
  assert.equal(needsRestart(base, "", base, "key"), true);
});

void test("terminal output: ANSI, OSC marks and redraws are removed", () => {
  assert.equal(stripAnsi("\x1b[31mred\x1b[0m plain"), "red plain");
  assert.equal(stripAnsi("\x1b]633;C\x07out\x1b]633;D;1\x07"), "out");
  assert.equal(stripAnsi("\x1b]0;title\x1b\\x"), "x");
  assert.equal(stripAnsi("10%\r50%\r100%\ndone\r\n"), "100%\ndone\n");
  assert.equal(stripAnsi("progress\r"), "progress");
  assert.equal(stripAnsi("a\x00b\x07c"), "abc");
});

void test("terminal output: bounded head and tail", () => {
  assert.deepEqual(boundOutput("short"), { outputHead: "short", outputTail: "", outputTruncated: false });
  const middle = "a".repeat(2000) + "b".repeat(3000);
  assert.deepEqual(boundOutput(middle), { outputHead: "a".repeat(2000), outputTail: "b".repeat(3000), outputTruncated: false });
  const long = "h".repeat(5000) + "m".repeat(10_000) + "t".repeat(5000);
  const bounded = boundOutput(long);
  assert.equal(bounded.outputHead, "h".repeat(2000));
  assert.equal(bounded.outputTail, "t".repeat(4000));
  assert.equal(bounded.outputTruncated, true);
});

void test("terminal output: the collector keeps memory bounded and the two ends", () => {
  const collector = new OutputCollector();
  collector.push("\x1b[32mFIRST LINE\x1b[0m\n");
  for (let i = 0; i < 20_000; i++) {
    collector.push(`line ${i} of noisy output\n`);
  }
  collector.push("\x1b[31mTests: 1 failed\x1b[0m\n");
  const result = collector.result();
  assert.equal(result.outputTruncated, true);
  assert.ok(result.outputHead.startsWith("FIRST LINE\nline 0 of"));
  assert.ok(result.outputHead.length <= 2000 && result.outputTail.length <= 4000);
  assert.ok(result.outputTail.endsWith("Tests: 1 failed\n"));
  assert.ok(!result.outputTail.includes("\x1b"));
  const small = new OutputCollector();
  small.push("ok\r\n");
  assert.deepEqual(small.result(), { outputHead: "ok\n", outputTail: "", outputTruncated: false });
});

const MEMORY: Memory = {
  id: "mem_1a2b3c",
  kind: "insight",
  title: "Guard optional values before indexing into them",
  description: "Use when a value that can be absent is indexed.",
  content: "Check for it at the boundary.",
  outcome: "success",
  languages: ["rust"],
  tools: ["cargo"],
  scope: "global",
  status: "pinned",
  when_not: "",
  check_command: "cargo test",
  provenance: { episode_ids: ["ep_9"], workspace: "/home/me/app", source: "episode", distilled_by: "offline" },
  created_at: "2026-05-01T10:00:00",
  helpful: 2,
  unhelpful: 0,
};

void test("memory page: provenance and markdown", () => {
  const now = new Date("2026-05-04T11:00:00Z");
  assert.equal(ago("2026-05-01T10:00:00", now), "3 days ago");
  assert.equal(ago("2026-05-04T10:59:30+00:00", now), "just now");
  assert.equal(ago(undefined, now), "");
  assert.equal(provenanceLine(MEMORY, now), "learned from: cargo (Rust) in project app, 3 days ago (episode ep_9, distilled by offline)");
  const imported = { ...MEMORY, tools: [], languages: [], provenance: { source: "manual" }, created_at: undefined };
  assert.equal(provenanceLine(imported, now), "learned from: insight (source: manual)");
  const page = memoryMarkdown(MEMORY, now);
  assert.ok(page.startsWith("# Guard optional values before indexing into them\n"));
  assert.ok(page.includes("**pinned**"));
  assert.ok(page.includes("```sh\ncargo test\n```"));
  assert.ok(page.includes("learned from\\: cargo \\(Rust\\) in project app\\, 3 days ago"), page); // escaped: see markdown.test.ts
  assert.ok(page.includes("`mem_1a2b3c` · feedback \\+2 \\/ −0"), page);
});

void test("install stamp: a matching stamp skips the install; a new wheel, a cut install or another pythonPath does not", async () => {
  const root = mkdtempSync(path.join(tmpdir(), "carryover-unit-"));
  const wheels = path.join(root, "python-dist");
  const storage = path.join(root, "storage");
  mkdirSync(wheels);
  const wheel = path.join(wheels, "carryover-0.1.0-py3-none-any.whl");
  writeFileSync(wheel, "wheel one");
  const paths = venvPaths(path.join(storage, "venv"));
  mkdirSync(path.dirname(paths.python), { recursive: true });
  writeFileSync(paths.python, "");
  writeFileSync(paths.carryover, "");
  assert.equal(await installedEnvironment(storage, wheels, ""), undefined, "no stamp: not installed");
  const stamp = { format: 2, wheel: path.basename(wheel), sha256: await sha256(wheel), embedder: EMBEDDER_REQUIREMENT, pythonSetting: "" };
  writeFileSync(path.join(storage, "venv", "carryover-install.json"), JSON.stringify(stamp));
  const found = await installedEnvironment(storage, wheels, "");
  assert.deepEqual(found?.serverCommand, [paths.carryover, "serve"]);
  assert.equal(await installedEnvironment(storage, wheels, "/opt/python3.12/bin/python3"), undefined, "another pythonPath builds again");
  writeFileSync(wheel, "wheel two");
  assert.equal(await installedEnvironment(storage, wheels, ""), undefined, "a changed wheel installs again");
  assert.equal(stampMatches({ ...stamp, embedder: "other" }, stamp), false);
  assert.equal(stampMatches(undefined, stamp), false);
  await assert.rejects(installedEnvironment(storage, path.join(root, "none"), ""), /no Carryover wheel/);
});

void test("install check: the modules it imports exist in this checkout (a renovation that moves them must update it)", () => {
  const repo = path.resolve(__dirname, "..", "..", "..");
  for (const module of DAEMON_MODULES) {
    const file = path.join(repo, ...module.split(".")) + ".py";
    assert.ok(existsSync(file), `${module}: no ${file}`);
  }
  assert.equal(EMBEDDER_MODULE, EMBEDDER_REQUIREMENT.split("==")[0]?.replace(/-/g, "_"));
});

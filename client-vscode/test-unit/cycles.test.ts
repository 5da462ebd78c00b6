// The import-circle check (scripts/check-cycles.mjs) on small made-up trees: it must find a circle
// (type-only imports included) and pass a tree without one.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";

const script = path.resolve(__dirname, "..", "..", "scripts", "check-cycles.mjs");

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), "carryover-cycles-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

function check(root: string): { code: number | null; output: string } {
  const result = spawnSync(process.execPath, [script, root], { encoding: "utf8" });
  return { code: result.status, output: result.stdout + result.stderr };
}

void test("check-cycles: a circle through a type-only import fails, naming both edges", () => {
  const root = tree({
    "daemon.ts": 'import { openMemory } from "./views/page";\nexport class Daemon {}\n',
    "views/page.ts": 'import type { Daemon } from "../daemon";\nexport function openMemory(_d?: Daemon) {}\n',
    "leaf.ts": "export const x = 1;\n",
  });
  const { code, output } = check(root);
  assert.equal(code, 1, output);
  assert.match(output, /daemon\.ts -> .*views\/page\.ts/);
  assert.match(output, /views\/page\.ts -> .*daemon\.ts/);
  assert.match(output, /1 import circle/);
});

void test("check-cycles: imports one way only pass; a package import is not followed", () => {
  const root = tree({
    "a.ts": 'import { b } from "./b";\nimport * as vscode from "vscode";\nexport const a = b + String(vscode);\n',
    "b.ts": 'export { c as b } from "./c";\n',
    "c.ts": "export const c = 1;\n",
  });
  const { code, output } = check(root);
  assert.equal(code, 0, output);
  assert.match(output, /3 modules, 2 imports, no import circle/);
});

void test("check-cycles: import() types and require() count; an import written inside a string does not", () => {
  const circle = tree({
    "a.ts": 'export type A = import("./b").B;\n',
    "b.ts": 'const a = require("./a") as unknown;\nexport type B = typeof a;\n',
  });
  assert.equal(check(circle).code, 1, check(circle).output);
  const text = tree({
    "a.ts": 'import "./b";\nexport const a = 1;\n',
    "b.ts": "export const help = 'import { a } from \"./a\"';\n",
  });
  const { code, output } = check(text);
  assert.equal(code, 0, output);
  assert.match(output, /2 modules, 1 imports/);
});

void test("check-cycles: an import that resolves to no file is an error, not a silent pass", () => {
  const root = tree({ "a.ts": 'import { b } from "./missing";\nexport const a = b;\n' });
  const { code, output } = check(root);
  assert.notEqual(code, 0);
  assert.match(output, /cannot resolve import "\.\/missing"/);
});

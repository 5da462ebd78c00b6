/**
 * The read-only markdown page of a memory, with where it was learned ("learned from: cargo test in
 * project app, 3 days ago"). Pure (no vscode import).
 */
import { codeBlock, codeSpan, escapeInline, escapeMarkdown, TOOLTIP_LIMIT } from "./markdown";
import type { Hit, Memory } from "./memory";

const LANGUAGE_NAMES: Record<string, string> = {
  javascript: "JavaScript",
  typescript: "TypeScript",
  python: "Python",
  rust: "Rust",
  go: "Go",
  java: "Java",
  csharp: "C#",
  cpp: "C++",
  c: "C",
  ruby: "Ruby",
  php: "PHP",
  shell: "shell",
  sql: "SQL",
};

export function languageName(language: string): string {
  return LANGUAGE_NAMES[language] ?? (language ? language.charAt(0).toUpperCase() + language.slice(1) : language);
}

/** "3 days ago", "just now", "in the future" for clock skew. */
export function ago(iso: string | undefined, now: Date): string {
  if (!iso) {
    return "";
  }
  const then = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(then)) {
    return "";
  }
  const seconds = Math.round((now.getTime() - then) / 1000);
  if (seconds < -60) {
    return "in the future";
  }
  if (seconds < 60) {
    return "just now";
  }
  const units: [number, string][] = [
    [365 * 86400, "year"],
    [30 * 86400, "month"],
    [7 * 86400, "week"],
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  for (const [size, name] of units) {
    if (seconds >= size) {
      const count = Math.floor(seconds / size);
      return `${count} ${name}${count === 1 ? "" : "s"} ago`;
    }
  }
  return "just now";
}

function baseName(path: string): string {
  const parts = path.replace(/[\\/]+$/, "").split(/[\\/]/);
  return parts[parts.length - 1] ?? path;
}

/** One line: where and when the memory was learned. */
export function provenanceLine(memory: Memory, now: Date): string {
  const provenance = memory.provenance ?? {};
  const what = memory.tools.length > 0 ? memory.tools.join(", ") : memory.kind;
  let learned = `learned from: ${what}`;
  if (memory.languages.length > 0) {
    learned += ` (${memory.languages.map(languageName).join(", ")})`;
  }
  if (provenance.workspace) {
    learned += ` in project ${baseName(provenance.workspace)}`;
  }
  const parts = [learned];
  const when = ago(memory.created_at, now);
  if (when) {
    parts.push(when);
  }
  const source: string[] = [];
  const episodes = provenance.episode_ids ?? [];
  if (episodes.length > 0) {
    source.push(episodes.length === 1 ? `episode ${episodes[0] ?? ""}` : `${episodes.length} episodes`);
  }
  if (provenance.source && provenance.source !== "episode") {
    source.push(`source: ${provenance.source}`);
  }
  if (provenance.distilled_by) {
    source.push(`distilled by ${provenance.distilled_by}`);
  }
  return parts.join(", ") + (source.length > 0 ? ` (${source.join(", ")})` : "");
}

/** The whole page. Every piece of memory text is escaped (markdown.ts): the page shows it, never
 * renders it as links, images or HTML. */
export function memoryMarkdown(memory: Memory, now: Date): string {
  const lines: string[] = [];
  lines.push(`# ${escapeInline(memory.title) || "(untitled memory)"}`, "");
  const status = memory.status === "active" ? "" : ` · **${escapeInline(memory.status)}**`;
  lines.push(`*${escapeInline(`${memory.kind} · ${memory.outcome} · ${memory.scope}`)}*${status}`, "");
  if (memory.status === "proposed") {
    lines.push("> Proposed by an agent: shown nowhere until you accept it in the Carryover view (Proposed).", "");
  }
  if (memory.description.trim()) {
    lines.push(`**When:** ${escapeMarkdown(memory.description)}`, "");
  }
  if (memory.content.trim()) {
    lines.push(escapeMarkdown(memory.content), "");
  }
  if (memory.when_not?.trim()) {
    lines.push(`**Not when:** ${escapeMarkdown(memory.when_not)}`, "");
  }
  if (memory.check_command?.trim()) {
    lines.push("**Check:**", "", codeBlock(memory.check_command.trim(), "sh"), "");
  }
  if (memory.status === "rejected" && memory.reject_reason) {
    lines.push(`**Rejected:** ${escapeMarkdown(memory.reject_reason)}`, "");
  }
  lines.push("---", "", `*${escapeInline(provenanceLine(memory, now))}*`, "");
  const feedback = `feedback +${memory.helpful ?? 0} / −${memory.unhelpful ?? 0}`;
  const merged = memory.merged_count ? ` · merged ${memory.merged_count} time${memory.merged_count === 1 ? "" : "s"}` : "";
  lines.push(`${codeSpan(memory.id)} · ${escapeInline(feedback)}${merged}`, "");
  return lines.join("\n");
}

/** A tree item's tooltip: title, content, the line it is for, provenance; all escaped and capped. */
export function tooltipMarkdown(memory: Hit, now: Date): string {
  const parts = [`**${escapeInline(memory.title, 300) || escapeInline(memory.id, 100)}**`];
  if (memory.content.trim()) {
    parts.push(escapeMarkdown(memory.content, TOOLTIP_LIMIT));
  }
  if (memory.why?.line) {
    parts.push(escapeMarkdown(memory.why.line, 300));
  }
  parts.push(`*${escapeInline(provenanceLine(memory, now), 500)}*`);
  return parts.join("\n\n");
}

/** A short description for a tree item or quick pick: "insight · learned in Rust". */
export function shortDescription(memory: Memory): string {
  const where = memory.languages.length > 0 ? ` · ${memory.languages.map(languageName).join(", ")}` : "";
  return `${memory.kind}${where}`;
}

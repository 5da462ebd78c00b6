/**
 * The read-only markdown page of a memory, with where it was learned ("learned from: cargo test in
 * project app, 3 days ago"). Pure (no vscode import).
 */
import type { Memory } from "./memory";

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

function escapeInline(text: string): string {
  return text.replace(/([\\`*_[\]<>#|])/g, "\\$1");
}

/** The whole page. */
export function memoryMarkdown(memory: Memory, now: Date): string {
  const lines: string[] = [];
  lines.push(`# ${escapeInline(memory.title.trim())}`, "");
  const status = memory.status === "active" ? "" : ` · **${memory.status}**`;
  lines.push(`*${memory.kind} · ${memory.outcome} · ${memory.scope}*${status}`, "");
  if (memory.description.trim()) {
    lines.push(`**When:** ${memory.description.trim()}`, "");
  }
  if (memory.content.trim()) {
    lines.push(memory.content.trim(), "");
  }
  if (memory.when_not?.trim()) {
    lines.push(`**Not when:** ${memory.when_not.trim()}`, "");
  }
  if (memory.check_command?.trim()) {
    lines.push("**Check:**", "", "```sh", memory.check_command.trim(), "```", "");
  }
  if (memory.status === "rejected" && memory.reject_reason) {
    lines.push(`**Rejected:** ${memory.reject_reason}`, "");
  }
  lines.push("---", "", `*${provenanceLine(memory, now)}*`, "");
  const feedback = `feedback +${memory.helpful ?? 0} / −${memory.unhelpful ?? 0}`;
  const merged = memory.merged_count ? ` · merged ${memory.merged_count} time${memory.merged_count === 1 ? "" : "s"}` : "";
  lines.push(`\`${memory.id}\` · ${feedback}${merged}`, "");
  return lines.join("\n");
}

/** A short description for a tree item or quick pick: "insight · learned in Rust". */
export function shortDescription(memory: Memory): string {
  const where = memory.languages.length > 0 ? ` · ${memory.languages.map(languageName).join(", ")}` : "";
  return `${memory.kind}${where}`;
}

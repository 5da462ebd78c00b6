import * as vscode from "vscode";
import { plainText } from "../markdown";
import type { Hit } from "../memory";
import { shortDescription, tooltipMarkdown } from "../memoryDocument";

/** A memory in a tree view; its context value (`memory.active|pinned|rejected|proposed`) picks the
 * actions. */
export class MemoryItem extends vscode.TreeItem {
  constructor(
    readonly memory: Hit,
    readonly view: string,
  ) {
    super(plainText(memory.title, 200).replace(/\s+/g, " ").trim() || memory.id, vscode.TreeItemCollapsibleState.None);
    const score = typeof memory.score === "number" ? ` · ${memory.score.toFixed(2)}` : "";
    const line = typeof memory.line === "number" ? ` · line ${memory.line + 1}` : "";
    this.description = `${shortDescription(memory)}${line}${score}`;
    this.contextValue = `memory.${memory.status}`;
    this.iconPath = new vscode.ThemeIcon(
      memory.status === "pinned" ? "pinned" : memory.status === "rejected" ? "circle-slash" : memory.status === "proposed" ? "inbox" : kindIcon(memory.kind),
    );
    this.tooltip = memoryTooltip(memory);
    this.command = { command: "carryover.item.show", title: "Show Memory", arguments: [this] };
  }
}

function kindIcon(kind: string): string {
  switch (kind) {
    case "insight":
      return "lightbulb";
    case "workflow":
      return "list-ordered";
    case "summary":
      return "note";
    case "trajectory":
      return "terminal";
    default:
      return "circle-outline";
  }
}

/** Untrusted markdown (no command links, no HTML, no theme icons) of escaped memory text only. */
export function memoryTooltip(memory: Hit): vscode.MarkdownString {
  const tooltip = new vscode.MarkdownString(tooltipMarkdown(memory, new Date()), false);
  tooltip.isTrusted = false;
  tooltip.supportHtml = false;
  return tooltip;
}

import * as vscode from "vscode";
import type { Hit } from "../memory";
import { provenanceLine, shortDescription } from "../memoryDocument";

/** A memory in a tree view; its context value (`memory.active|pinned|rejected`) picks the actions. */
export class MemoryItem extends vscode.TreeItem {
  constructor(
    readonly memory: Hit,
    readonly view: string,
  ) {
    super(memory.title.trim() || memory.id, vscode.TreeItemCollapsibleState.None);
    const score = typeof memory.score === "number" ? ` · ${memory.score.toFixed(2)}` : "";
    const line = typeof memory.line === "number" ? ` · line ${memory.line + 1}` : "";
    this.description = `${shortDescription(memory)}${line}${score}`;
    this.contextValue = `memory.${memory.status}`;
    this.iconPath = new vscode.ThemeIcon(
      memory.status === "pinned" ? "pinned" : memory.status === "rejected" ? "circle-slash" : kindIcon(memory.kind),
    );
    const tooltip = new vscode.MarkdownString();
    tooltip.appendMarkdown(`**${escape(memory.title.trim())}**\n\n`);
    if (memory.content.trim()) {
      tooltip.appendText(`${memory.content.trim()}\n\n`);
    }
    if (memory.why?.line) {
      tooltip.appendText(`${memory.why.line}\n\n`);
    }
    tooltip.appendMarkdown(`*${escape(provenanceLine(memory, new Date()))}*`);
    this.tooltip = tooltip;
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

function escape(text: string): string {
  return text.replace(/([\\`*_[\]<>#|])/g, "\\$1");
}

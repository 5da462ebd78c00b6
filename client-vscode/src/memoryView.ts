/** A memory as a read-only markdown page (scheme `carryover-memory`), shown in the markdown preview. */
import * as vscode from "vscode";
import { errorText, getLog } from "./log";
import { asMemory } from "./memory";
import { memoryMarkdown } from "./memoryDocument";
import { CMD, type CommandRunner } from "./protocol";

export const SCHEME = "carryover-memory";

export function memoryUri(id: string, title: string): vscode.Uri {
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60) || "memory";
  return vscode.Uri.from({ scheme: SCHEME, path: `/${id}/${slug}.md` });
}

export class MemoryDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly opened = new Set<string>();

  constructor(private readonly daemon: CommandRunner) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const id = uri.path.split("/")[1] ?? "";
    this.opened.add(uri.toString());
    try {
      const result = await this.daemon.command<{ memory?: unknown }>(CMD.show, { memoryId: id });
      const memory = asMemory(result.memory);
      return memory ? memoryMarkdown(memory, new Date()) : `# Memory ${id}\n\nNot found.\n`;
    } catch (error) {
      return `# Memory ${id}\n\nCould not load it: ${errorText(error)}\n`;
    }
  }

  /** Pages already open show the memory as it is now (after a pin, say). */
  refreshOpen(): void {
    for (const uri of this.opened) {
      this.emitter.fire(vscode.Uri.parse(uri));
    }
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

/** Opens the page in the markdown preview (else as a read-only document in preview mode). */
export async function openMemory(id: string, title: string): Promise<vscode.Uri> {
  const uri = memoryUri(id, title);
  try {
    await vscode.commands.executeCommand("markdown.showPreview", uri);
  } catch (error) {
    getLog().info(`markdown preview not available (${errorText(error)}); opening the text`);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, { preview: true });
  }
  return uri;
}

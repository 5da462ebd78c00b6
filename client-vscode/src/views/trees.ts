/**
 * The views of the Carryover container: Suggested here (the active editor and its cursor line, from
 * the server's `carryover.suggest`), Proposed (memories an agent proposed over MCP, waiting for accept
 * or reject), Pinned, Recent and Rejected (`carryover.list` by status).
 */
import * as vscode from "vscode";
import type { Daemon } from "../daemon";
import { errorText, getLog } from "../log";
import { asMemories, memoriesForView, type Hit } from "../memory";
import { CMD } from "../protocol";
import { MemoryItem } from "./memoryItem";

export const RECENT_LIMIT = 50;

abstract class MemoryTree implements vscode.TreeDataProvider<MemoryItem>, vscode.Disposable {
  protected readonly emitter = new vscode.EventEmitter<MemoryItem | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  /** The items last listed (for tests and for other commands). */
  items: MemoryItem[] = [];
  view: vscode.TreeView<MemoryItem> | undefined;

  constructor(
    readonly id: string,
    protected readonly daemon: Daemon,
  ) {}

  refresh(): void {
    this.emitter.fire(undefined);
  }

  getTreeItem(element: MemoryItem): vscode.TreeItem {
    return element;
  }

  async getChildren(element?: MemoryItem): Promise<MemoryItem[]> {
    if (element) {
      return [];
    }
    if (!this.daemon.ready) {
      this.setMessage("Waiting for Carryover's daemon…");
      this.items = [];
      return [];
    }
    try {
      const memories = await this.load();
      this.items = memories.map((memory) => new MemoryItem(memory, this.id));
      this.setMessage(this.emptyMessage(this.items.length));
    } catch (error) {
      getLog().warn(`${this.id}: ${errorText(error)}`);
      this.items = [];
      this.setMessage(`Could not list memories: ${errorText(error)}`);
    }
    return this.items;
  }

  protected emptyMessage(_count: number): string | undefined {
    return undefined;
  }

  private setMessage(message: string | undefined): void {
    if (this.view) {
      this.view.message = message;
    }
  }

  protected abstract load(): Promise<Hit[]>;

  dispose(): void {
    this.emitter.dispose();
  }
}

/** Pinned, Recent, Rejected or Proposed: `carryover.list` by status, newest first; Recent (no status)
 * leaves out the rejected and the proposed ones, which have their own views. */
export class ListTree extends MemoryTree {
  constructor(
    id: string,
    daemon: Daemon,
    protected readonly status: "pinned" | "rejected" | "proposed" | undefined,
  ) {
    super(id, daemon);
  }

  protected async load(): Promise<Hit[]> {
    const argument: Record<string, unknown> = { limit: RECENT_LIMIT };
    if (this.status) {
      argument.status = this.status;
    }
    const result = await this.daemon.command<{ memories?: unknown }>(CMD.list, argument);
    const memories = asMemories(result.memories);
    return memoriesForView(memories, this.status);
  }
}

/** Proposed: what agents proposed (Carryover's MCP server), shown nowhere else until accepted; the
 * view's badge counts them. A daemon that knows no "proposed" status lists none. */
export class ProposedTree extends ListTree {
  /** Set when the daemon answered that it has no such status. */
  unsupported = false;

  constructor(id: string, daemon: Daemon) {
    super(id, daemon, "proposed");
  }

  protected async load(): Promise<Hit[]> {
    try {
      const memories = await super.load();
      this.unsupported = false;
      this.setBadge(memories.length);
      return memories;
    } catch (error) {
      if (/proposed/i.test(errorText(error))) {
        getLog().info(`the daemon lists no proposed memories: ${errorText(error)}`);
        this.unsupported = true;
        this.setBadge(0);
        return [];
      }
      throw error;
    }
  }

  protected emptyMessage(count: number): string | undefined {
    if (this.unsupported) {
      return "This Carryover daemon has no proposed memories (it is older than the extension).";
    }
    return count === 0 ? undefined : `${count} proposed by agents: accept to use, reject to drop.`;
  }

  private setBadge(count: number): void {
    if (this.view) {
      this.view.badge = count > 0 ? { value: count, tooltip: `${count} proposed memor${count === 1 ? "y waits" : "ies wait"} for you` } : undefined;
    }
  }
}

/** What applies to the active editor and its cursor line. */
export class SuggestedTree extends MemoryTree {
  private timer: NodeJS.Timeout | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];
  /** The document and line the items are for. */
  target: { uri: string; line: number } | undefined;

  constructor(id: string, daemon: Daemon) {
    super(id, daemon);
    this.subscriptions.push(
      vscode.window.onDidChangeActiveTextEditor(() => {
        this.later();
      }),
      vscode.window.onDidChangeTextEditorSelection((event) => {
        if (event.textEditor === vscode.window.activeTextEditor) {
          this.later();
        }
      }),
    );
  }

  private later(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.refresh();
    }, 400);
  }

  protected emptyMessage(count: number): string | undefined {
    if (!vscode.window.activeTextEditor) {
      return "Open a file to see the memories that apply to it.";
    }
    return count === 0 ? "No memory applies to this file or line." : undefined;
  }

  protected async load(): Promise<Hit[]> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || !["file", "untitled"].includes(editor.document.uri.scheme)) {
      this.target = undefined;
      return [];
    }
    const uri = editor.document.uri.toString();
    const line = editor.selection.active.line;
    this.target = { uri, line };
    const result = await this.daemon.command<{ hits?: unknown }>("carryover.suggest", { uri, line });
    return asMemories(result.hits);
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    super.dispose();
  }
}

export interface Views {
  suggested: SuggestedTree;
  proposed: ProposedTree;
  pinned: ListTree;
  recent: ListTree;
  rejected: ListTree;
  refresh(): void;
}

export function createViews(daemon: Daemon, subscriptions: vscode.Disposable[]): Views {
  const suggested = new SuggestedTree("carryover.suggested", daemon);
  const proposed = new ProposedTree("carryover.proposed", daemon);
  const pinned = new ListTree("carryover.pinned", daemon, "pinned");
  const recent = new ListTree("carryover.recent", daemon, undefined);
  const rejected = new ListTree("carryover.rejected", daemon, "rejected");
  for (const tree of [suggested, proposed, pinned, recent, rejected]) {
    const view = vscode.window.createTreeView(tree.id, { treeDataProvider: tree, showCollapseAll: false });
    tree.view = view;
    subscriptions.push(tree, view);
  }
  const refresh = (): void => {
    for (const tree of [suggested, proposed, pinned, recent, rejected]) {
      tree.refresh();
    }
  };
  subscriptions.push(daemon.onDidChangeMemories(refresh));
  return { suggested, proposed, pinned, recent, rejected, refresh };
}

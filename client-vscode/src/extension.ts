/** Wiring only: the daemon, capture, views, commands, the status bar and the MCP server definition. */
import * as vscode from "vscode";
import { registerCommands } from "./commands";
import { Daemon } from "./daemon";
import { DiagnosticsForward } from "./diagnosticsForward";
import { getLog } from "./log";
import { registerMcpServer, type McpRegistration } from "./mcp";
import { MemoryDocuments, openMemory, SCHEME } from "./memoryView";
import { StatusBar } from "./statusBar";
import { TerminalCapture } from "./terminalCapture";
import { createViews, type Views } from "./views/trees";

/** What activate() returns: for the in-editor tests (and other extensions, read-only). */
export interface CarryoverApi {
  daemon: Daemon;
  views: Views;
  statusBar: StatusBar;
  terminalCapture: TerminalCapture;
  diagnosticsForward: DiagnosticsForward;
  mcp: McpRegistration;
}

let daemon: Daemon | undefined;

export function activate(context: vscode.ExtensionContext): CarryoverApi {
  const log = getLog();
  context.subscriptions.push(log);
  const statusBar = new StatusBar();
  daemon = new Daemon(context, statusBar, { revealMemory: (id) => openMemory(id, id) });
  const documents = new MemoryDocuments(daemon);
  const views = createViews(daemon, context.subscriptions);
  const terminalCapture = new TerminalCapture(daemon);
  const diagnosticsForward = new DiagnosticsForward(daemon);
  const mcp = registerMcpServer(context, daemon);
  context.subscriptions.push(
    statusBar,
    daemon,
    documents,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, documents),
    daemon.onDidChangeMemories(() => {
      documents.refreshOpen();
    }),
    terminalCapture,
    diagnosticsForward,
    mcp,
  );
  registerCommands(context, daemon, views);
  void daemon.start(); // never rejects: failures are shown by the daemon itself
  const manifest = context.extension.packageJSON as { version?: string };
  log.info(`Carryover ${manifest.version ?? ""} activated`);
  return { daemon, views, statusBar, terminalCapture, diagnosticsForward, mcp };
}

export async function deactivate(): Promise<void> {
  await daemon?.stop();
  daemon = undefined;
}

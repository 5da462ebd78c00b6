import * as vscode from "vscode";

/** The "Carryover" log channel: the extension's own messages, pip's output and the daemon's logs. */
let channel: vscode.LogOutputChannel | undefined;

export function getLog(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel("Carryover", { log: true });
  return channel;
}

export function showLogs(): void {
  getLog().show(true);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

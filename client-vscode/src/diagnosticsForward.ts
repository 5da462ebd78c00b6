/**
 * Diagnostics that other extensions report on workspace files, forwarded to the daemon on change
 * (debounced) as `carryover/diagnostics` {uri, source, diagnostics}: one notification per source, an
 * empty list when a source's diagnostics cleared (that is what closes an episode), Carryover's own
 * hints never.
 */
import * as vscode from "vscode";
import type { Daemon } from "./daemon";
import { errorText, getLog } from "./log";

export const DIAGNOSTICS = "carryover/diagnostics";
const DEBOUNCE_MS = 750;
const OWN_SOURCE = "carryover";

export class DiagnosticsForward implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly pending = new Map<string, vscode.Uri>();
  /** What was last sent: uri -> source -> a fingerprint of the list. */
  private readonly sent = new Map<string, Map<string, string>>();
  private timer: NodeJS.Timeout | undefined;
  /** Every `carryover/diagnostics` sent, newest last, at most 20 (for tests). */
  readonly sentLog: { uri: string; source: string; count: number }[] = [];

  constructor(private readonly daemon: Daemon) {
    this.disposables.push(
      vscode.languages.onDidChangeDiagnostics((event) => {
        this.changed(event.uris);
      }),
      // a new daemon (first start, restart, after a crash) knows none of them: send them all again
      daemon.onDidBecomeReady(() => {
        this.sent.clear();
        this.changed(vscode.languages.getDiagnostics().map(([uri]) => uri));
      }),
    );
  }

  private enabled(): boolean {
    return this.daemon.settings.capture.diagnostics && !this.daemon.paused;
  }

  private changed(uris: readonly vscode.Uri[]): void {
    if (!this.enabled()) {
      return;
    }
    for (const uri of uris) {
      if (uri.scheme === "file" && vscode.workspace.getWorkspaceFolder(uri)) {
        this.pending.set(uri.toString(), uri);
      }
    }
    if (this.pending.size > 0) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        void this.flush();
      }, DEBOUNCE_MS);
    }
  }

  private async flush(): Promise<void> {
    const client = this.daemon.client;
    if (!client || !this.daemon.running) {
      return; // kept in pending: sent when the daemon is ready
    }
    const uris = [...this.pending.values()];
    this.pending.clear();
    if (!this.enabled()) {
      return;
    }
    for (const uri of uris) {
      const key = uri.toString();
      const bySource = new Map<string, vscode.Diagnostic[]>();
      for (const diagnostic of vscode.languages.getDiagnostics(uri)) {
        const source = diagnostic.source ?? "editor";
        if (source === OWN_SOURCE) {
          continue;
        }
        const list = bySource.get(source) ?? [];
        list.push(diagnostic);
        bySource.set(source, list);
      }
      const before = this.sent.get(key) ?? new Map<string, string>();
      const now = new Map<string, string>();
      for (const source of new Set([...before.keys(), ...bySource.keys()])) {
        const diagnostics = bySource.get(source) ?? [];
        try {
          const converted = await client.code2ProtocolConverter.asDiagnostics(diagnostics);
          const fingerprint = JSON.stringify(converted);
          if (diagnostics.length > 0) {
            now.set(source, fingerprint);
          }
          if (before.get(source) === fingerprint || (diagnostics.length === 0 && !before.has(source))) {
            continue;
          }
          this.daemon.notify(DIAGNOSTICS, { uri: key, source, diagnostics: converted });
          this.sentLog.push({ uri: key, source, count: converted.length });
          this.sentLog.splice(0, Math.max(0, this.sentLog.length - 20));
        } catch (error) {
          getLog().debug(`diagnostics of ${key} not sent: ${errorText(error)}`);
        }
      }
      if (now.size > 0) {
        this.sent.set(key, now);
      } else {
        this.sent.delete(key);
      }
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }
}

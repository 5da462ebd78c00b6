/**
 * Terminal commands through VS Code's shell integration: the command line, working folder, exit code,
 * times and a bounded, cleaned head and tail of the output, sent to the daemon as
 * `carryover/terminalStarted` and `carryover/terminalEnded` (server/wire.py).
 */
import * as vscode from "vscode";
import type { Daemon } from "./daemon";
import { errorText, getLog } from "./log";
import { OutputCollector } from "./terminalOutput";

export const TERMINAL_STARTED = "carryover/terminalStarted";
export const TERMINAL_ENDED = "carryover/terminalEnded";
/** How long the end event waits for the output stream to finish. */
const READ_WAIT_MS = 1500;

interface Running {
  command: string;
  cwd: string;
  terminalId: string;
  executionId: string;
  startedAt: string;
  collector: OutputCollector;
  reading: Promise<void>;
}

export class TerminalCapture implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly running = new Map<vscode.TerminalShellExecution, Running>();
  private readonly terminalIds = new WeakMap<vscode.Terminal, string>();
  private nextTerminal = 1;
  private nextExecution = 1;
  /** The last `carryover/terminalEnded` sent (for tests). */
  lastEnded: Record<string, unknown> | undefined;

  constructor(private readonly daemon: Daemon) {
    this.disposables.push(
      vscode.window.onDidStartTerminalShellExecution((event) => {
        this.started(event);
      }),
      vscode.window.onDidEndTerminalShellExecution((event) => {
        void this.ended(event);
      }),
    );
  }

  private enabled(): boolean {
    return this.daemon.settings.capture.terminal && !this.daemon.paused;
  }

  private terminalId(terminal: vscode.Terminal): string {
    let id = this.terminalIds.get(terminal);
    if (!id) {
      id = String(this.nextTerminal++);
      this.terminalIds.set(terminal, id);
    }
    return id;
  }

  private started(event: vscode.TerminalShellExecutionStartEvent): void {
    if (!this.enabled()) {
      return;
    }
    const execution = event.execution;
    const command = execution.commandLine.value.trim();
    if (!command) {
      return;
    }
    const cwd =
      execution.cwd?.fsPath ?? event.shellIntegration.cwd?.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
    const collector = new OutputCollector();
    const record: Running = {
      command,
      cwd,
      terminalId: this.terminalId(event.terminal),
      executionId: String(this.nextExecution++),
      startedAt: new Date().toISOString(),
      collector,
      reading: this.read(execution, collector),
    };
    this.running.set(execution, record);
    this.daemon.notify(TERMINAL_STARTED, {
      command,
      cwd,
      terminalId: record.terminalId,
      executionId: record.executionId,
    });
  }

  /** Reads the output from the start (reading only at the end would miss it). */
  private async read(execution: vscode.TerminalShellExecution, collector: OutputCollector): Promise<void> {
    try {
      for await (const data of execution.read()) {
        collector.push(data);
      }
    } catch (error) {
      getLog().debug(`terminal output not read: ${errorText(error)}`);
    }
  }

  private async ended(event: vscode.TerminalShellExecutionEndEvent): Promise<void> {
    const record = this.running.get(event.execution);
    this.running.delete(event.execution);
    if (!record || !this.enabled()) {
      return;
    }
    const endedAt = new Date().toISOString();
    // the stream ends shortly after the command; never wait for it for long
    await Promise.race([record.reading, new Promise((resolve) => setTimeout(resolve, READ_WAIT_MS))]);
    const output = record.collector.result();
    this.lastEnded = {
      command: record.command,
      cwd: record.cwd,
      terminalId: record.terminalId,
      executionId: record.executionId,
      exitCode: event.exitCode ?? null,
      startedAt: record.startedAt,
      endedAt,
      ...output,
    };
    this.daemon.notify(TERMINAL_ENDED, this.lastEnded);
    getLog().debug(`captured \`${record.command}\` (exit ${event.exitCode ?? "?"})`);
  }

  dispose(): void {
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
    this.running.clear();
  }
}

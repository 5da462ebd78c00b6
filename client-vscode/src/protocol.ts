/**
 * What the extension's modules need of the daemon, as a narrow interface (so views and pages depend on
 * it, not on daemon.ts, and daemon.ts depends on none of them), and the names of the daemon's commands
 * and notification (carryover/lsp/wire.py). Pure: no vscode import.
 */

/** Runs a daemon command (workspace/executeCommand) with its one object argument. */
export interface CommandRunner {
  command<T>(name: string, argument?: object): Promise<T>;
}

export const STATUS_NOTIFICATION = "carryover/status";

export const CMD = {
  accept: "carryover.accept",
  distill: "carryover.distill",
  forget: "carryover.forget",
  list: "carryover.list",
  pauseCapture: "carryover.pauseCapture",
  pin: "carryover.pin",
  reject: "carryover.reject",
  restore: "carryover.restore",
  resumeCapture: "carryover.resumeCapture",
  search: "carryover.search",
  show: "carryover.show",
  suggest: "carryover.suggest",
} as const;

/** The `carryover/status` notification's parameters. */
export interface StatusParams {
  state: string;
  message?: string;
  memories?: number | null;
}

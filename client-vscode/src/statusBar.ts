import * as vscode from "vscode";

export type DaemonState = "starting" | "installing" | "ready" | "paused" | "error" | "stopped";

/** The status bar item: the daemon's state; a click pauses or resumes capture (or shows the logs). */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  state: DaemonState = "starting";
  memories: number | undefined;
  detail = "";

  constructor() {
    this.item = vscode.window.createStatusBarItem("carryover.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "Carryover";
    this.render();
    this.item.show();
  }

  set(state: DaemonState, detail = "", memories?: number): void {
    this.state = state;
    this.detail = detail;
    if (memories !== undefined) {
      this.memories = memories;
    }
    this.render();
  }

  /** The text shown, for tests. */
  get text(): string {
    return this.item.text;
  }

  private render(): void {
    const count = this.memories === undefined ? "" : ` ${this.memories} memor${this.memories === 1 ? "y" : "ies"}`;
    const item = this.item;
    item.backgroundColor = undefined;
    switch (this.state) {
      case "starting":
        item.text = "$(loading~spin) Carryover: starting";
        item.tooltip = "Carryover is starting its daemon.";
        item.command = "carryover.showLogs";
        break;
      case "installing":
        item.text = "$(loading~spin) Carryover: installing";
        item.tooltip = `Carryover is installing its daemon${this.detail ? `: ${this.detail}` : ""}.`;
        item.command = "carryover.showLogs";
        break;
      case "ready":
        item.text = `$(lightbulb) Carryover:${count || " ready"}`;
        item.tooltip = "Carryover is capturing. Click to pause capture.";
        item.command = "carryover.capture.toggle";
        break;
      case "paused":
        item.text = `$(debug-pause) Carryover: paused`;
        item.tooltip = `Capture is paused${count ? ` (${count.trim()})` : ""}. Click to resume.`;
        item.command = "carryover.capture.toggle";
        break;
      case "error":
        item.text = "$(error) Carryover: error";
        item.tooltip = `${this.detail || "The daemon failed."} Click to see the logs.`;
        item.command = "carryover.showLogs";
        item.backgroundColor = new vscode.ThemeColor("statusBarItem.errorBackground");
        break;
      case "stopped":
        item.text = "$(circle-slash) Carryover: stopped";
        item.tooltip = "The daemon is not running. Click to see the logs.";
        item.command = "carryover.showLogs";
        break;
    }
  }

  dispose(): void {
    this.item.dispose();
  }
}

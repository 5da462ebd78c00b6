/** The commands the extension contributes (the daemon's own commands are registered by the client). */
import * as vscode from "vscode";
import { SECRET_KEY, type Daemon } from "./daemon";
import { errorText, getLog, showLogs } from "./log";
import { asMemories, asMemory, type Memory } from "./memory";
import { shortDescription } from "./memoryDocument";
import { openMemory } from "./memoryView";
import { CMD } from "./protocol";
import { checkValidationCommand, confirmationDetail } from "./validation";
import type { Views } from "./views/trees";

export const VALIDATION_TERMINAL = "Carryover validation";

/** The id of what an item command was given: a tree item, a memory, `{memoryId}` or an id. */
export function memoryOf(argument: unknown): Memory | { id: string; title: string } | undefined {
  if (typeof argument === "string") {
    return { id: argument, title: argument };
  }
  if (typeof argument === "object" && argument !== null) {
    const record = argument as { memory?: unknown; memoryId?: unknown };
    const memory = asMemory(record.memory) ?? asMemory(argument);
    if (memory) {
      return memory;
    }
    if (typeof record.memoryId === "string") {
      return { id: record.memoryId, title: record.memoryId };
    }
  }
  return undefined;
}

async function guard(what: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    getLog().error(`${what}: ${errorText(error)}`);
    void vscode.window.showErrorMessage(`Carryover: ${what} failed: ${errorText(error)}`, "Show Logs").then((choice) => {
      if (choice === "Show Logs") showLogs();
    });
  }
}

interface RunValidationArgs {
  command?: unknown;
  cwd?: unknown;
  memoryId?: unknown;
}

/** Runs a memory's check command after the user confirms the exact line, in a terminal whose commands
 * are captured. A command that is not one visible line is refused (validation.ts). */
export async function runValidation(argument: RunValidationArgs | undefined): Promise<boolean> {
  const cwd = typeof argument?.cwd === "string" && argument.cwd ? argument.cwd : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const checked = checkValidationCommand(argument?.command, cwd);
  const memoryId = typeof argument?.memoryId === "string" ? argument.memoryId : undefined;
  if (!checked.ok) {
    getLog().warn(`validation refused: ${checked.reason}`);
    const buttons = memoryId ? ["Show Memory"] : [];
    void vscode.window.showWarningMessage(`Carryover did not run it: ${checked.reason}`, ...buttons).then(async (choice) => {
      if (choice === "Show Memory" && memoryId) {
        await openMemory(memoryId, memoryId);
      }
    });
    return false;
  }
  const choice = await vscode.window.showWarningMessage(
    "Run this command from a Carryover memory?",
    { modal: true, detail: confirmationDetail(checked, VALIDATION_TERMINAL) },
    "Run",
  );
  if (choice !== "Run") {
    return false;
  }
  let terminal = vscode.window.terminals.find((candidate) => candidate.name === VALIDATION_TERMINAL && candidate.exitStatus === undefined);
  terminal ??= vscode.window.createTerminal({ name: VALIDATION_TERMINAL, cwd: checked.cwd });
  terminal.show(true);
  const integration = terminal.shellIntegration ?? (await waitForShellIntegration(terminal, 3000));
  if (integration) {
    integration.executeCommand(checked.line);
  } else {
    terminal.sendText(checked.line, true);
  }
  getLog().info(`validation: ${checked.line}`);
  return true;
}

function waitForShellIntegration(terminal: vscode.Terminal, timeoutMs: number): Promise<vscode.TerminalShellIntegration | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      listener.dispose();
      resolve(undefined);
    }, timeoutMs);
    const listener = vscode.window.onDidChangeTerminalShellIntegration((event) => {
      if (event.terminal === terminal) {
        clearTimeout(timer);
        listener.dispose();
        resolve(event.shellIntegration);
      }
    });
  });
}

export function registerCommands(
  context: vscode.ExtensionContext,
  daemon: Daemon,
  views: Views,
): void {
  const register = (id: string, handler: (...args: unknown[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, handler));
  };
  const itemCommand = (id: string, what: string, work: (memory: { id: string; title: string }) => Promise<unknown>): void => {
    register(id, (argument) =>
      guard(what, async () => {
        const memory = memoryOf(argument);
        if (!memory) {
          throw new Error("no memory given");
        }
        await work(memory); // the daemon says "changed": views and open memory pages refresh then
      }),
    );
  };

  register("carryover.showLogs", () => {
    showLogs();
  });
  register("carryover.restartDaemon", () => guard("restart", () => daemon.restart()));
  register("carryover.refreshViews", () => {
    views.refresh();
  });
  register("carryover.setApiKey", () =>
    guard("setting the API key", async () => {
      const value = await vscode.window.showInputBox({
        title: "Carryover: API key of the distillation endpoint",
        prompt: "Stored in the editor's secret storage, sent only to the daemon. Leave empty to remove it.",
        password: true,
        ignoreFocusOut: true,
      });
      if (value === undefined) {
        return;
      }
      if (value.trim()) {
        await context.secrets.store(SECRET_KEY, value.trim());
        void vscode.window.showInformationMessage("Carryover: API key saved; the daemon restarts.");
      } else {
        await context.secrets.delete(SECRET_KEY);
        void vscode.window.showInformationMessage("Carryover: API key removed.");
      }
      // secrets.onDidChange restarts the daemon
    }),
  );
  register("carryover.distillNow", () =>
    guard("distillation", async () => {
      const result = await daemon.command<{ message?: string; distilled?: boolean }>("carryover.distill");
      if (result.distilled && result.message) {
        void vscode.window.showInformationMessage(`Carryover: ${result.message}`);
      }
    }),
  );
  const setCapture = async (pause: boolean): Promise<void> => {
    await daemon.command(pause ? "carryover.pauseCapture" : "carryover.resumeCapture"); // confirmed by carryover/status
  };
  register("carryover.capture.pause", () => guard("pausing capture", () => setCapture(true)));
  register("carryover.capture.resume", () => guard("resuming capture", () => setCapture(false)));
  register("carryover.capture.toggle", () => guard("pausing or resuming capture", () => setCapture(!daemon.paused)));
  register("carryover.runValidation", (argument) => runValidation(argument as RunValidationArgs | undefined));

  register("carryover.searchMemories", (preset) =>
    guard("search", async () => {
      const query =
        typeof preset === "string"
          ? preset
          : await vscode.window.showInputBox({
              title: "Carryover: search memories",
              prompt: "An error message, a command, or what you are about to do",
              ignoreFocusOut: true,
            });
      if (!query?.trim()) {
        return;
      }
      const result = await daemon.command<{ hits?: unknown }>("carryover.search", { query: query.trim(), k: 20 });
      const hits = asMemories(result.hits);
      if (hits.length === 0) {
        void vscode.window.showInformationMessage(`Carryover: no memory matches “${query.trim()}”.`);
        return;
      }
      const picked = await vscode.window.showQuickPick(
        hits.map((hit) => ({
          label: hit.title.trim(),
          description: `${shortDescription(hit)}${typeof hit.score === "number" ? ` · ${hit.score.toFixed(2)}` : ""}`,
          detail: hit.why?.line ?? hit.description,
          hit,
        })),
        { title: `Carryover: ${hits.length} memories for “${query.trim()}”`, matchOnDescription: true, matchOnDetail: true },
      );
      if (picked) {
        await openMemory(picked.hit.id, picked.hit.title);
      }
    }),
  );

  itemCommand("carryover.item.show", "opening the memory", (memory) => openMemory(memory.id, memory.title));
  itemCommand("carryover.item.pin", "pinning", (memory) => daemon.command("carryover.pin", { memoryId: memory.id }));
  itemCommand("carryover.item.restore", "restoring", (memory) => daemon.command("carryover.restore", { memoryId: memory.id }));
  // a proposal is rejected at once (it was never used); a memory in use asks for a reason (the daemon asks)
  itemCommand("carryover.item.reject", "rejecting", (memory) =>
    daemon.command(CMD.reject, "status" in memory && memory.status === "proposed" ? { memoryId: memory.id, reason: "" } : { memoryId: memory.id }),
  );
  itemCommand("carryover.item.accept", "accepting", (memory) => daemon.command(CMD.accept, { memoryId: memory.id }));
  itemCommand("carryover.item.forget", "forgetting", async (memory) => {
    const choice = await vscode.window.showWarningMessage(
      `Forget “${memory.title.trim()}” for good?`,
      { modal: true, detail: "It is deleted from the pool; rejecting it instead keeps it out of sight and can be undone." },
      "Forget",
    );
    if (choice === "Forget") {
      await daemon.command("carryover.forget", { memoryId: memory.id });
    }
  });
}

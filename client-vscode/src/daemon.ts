/**
 * The daemon (`carryover serve`, stdio) behind vscode-languageclient: the command that starts it (the
 * `carryover.serverCommand` setting, else the managed environment, installed on first use), its
 * settings (initializationOptions, workspace/configuration answers, didChangeConfiguration), its
 * `carryover/status` notification, and clean restarts.
 */
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  RevealOutputChannelOn,
  State,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import { errorText, getLog, showLogs } from "./log";
import { CMD, STATUS_NOTIFICATION, type CommandRunner, type StatusParams } from "./protocol";
import { serverCommand, UserFacingError } from "./serverCommand";
import { daemonEnvironment, needsRestart, readSettings, toDaemonSettings, type DaemonSettings, type ExtensionSettings } from "./settings";
import type { StatusBar } from "./statusBar";

export const SECRET_KEY = "carryover.apiKey";

/** What the daemon asks of the rest of the extension (given by extension.ts: no import of views here). */
export interface DaemonHooks {
  /** Opens a memory's page ("show" with `reveal` from a code lens or code action). */
  revealMemory(id: string): Promise<unknown>;
}

/** The hover with each of its markdown parts untrusted, whatever the client library defaulted to. */
export function untrustedHover(hover: vscode.Hover | null | undefined): vscode.Hover | null | undefined {
  for (const content of hover?.contents ?? []) {
    if (content instanceof vscode.MarkdownString) {
      content.isTrusted = false;
      content.supportHtml = false;
    }
  }
  return hover;
}

export class Daemon implements vscode.Disposable, CommandRunner {
  client: LanguageClient | undefined;
  /** Capture paused by the user (status bar, commands); the daemon says so with carryover/status. */
  paused = false;
  ready = false;
  settings: ExtensionSettings;
  /** The managed environment's Python, once it is used. */
  managedPython: string | undefined;
  private key = "";
  /** Start, stop and restart run one at a time, in the order asked: two restarts that overlapped
   * (two settings changed at once) started two daemons, the second failing on its commands. */
  private lifecycle: Promise<void> = Promise.resolve();
  /** A restart asked for and not begun yet: a further request joins it (it reads the settings when it
   * begins). */
  private pendingRestart: Promise<void> | undefined;
  private stopping = false;
  private readyWaiters: (() => void)[] = [];
  private readonly changedEmitter = new vscode.EventEmitter<void>();
  private readonly readyEmitter = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [];
  /** Fired when memories may have changed: the daemon's `carryover/status` "ready" and "changed" (after a
   * pin, a rejection, a distillation, also one in the background). */
  readonly onDidChangeMemories = this.changedEmitter.event;
  readonly onDidBecomeReady = this.readyEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly status: StatusBar,
    private readonly hooks: DaemonHooks,
  ) {
    this.settings = readSettings(vscode.workspace.getConfiguration("carryover"));
    this.disposables.push(
      this.changedEmitter,
      this.readyEmitter,
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration("carryover")) {
          this.configurationChanged().catch((error: unknown) => {
            getLog().error(`applying the settings: ${errorText(error)}`);
          });
        }
      }),
      context.secrets.onDidChange((event) => {
        if (event.key === SECRET_KEY) {
          this.configurationChanged().catch((error: unknown) => {
            getLog().error(`applying the API key: ${errorText(error)}`);
          });
        }
      }),
    );
  }

  /** What the daemon is sent as its settings (never the key: see daemonEnvironment). */
  daemonSettings(): DaemonSettings {
    return toDaemonSettings(this.settings);
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  /** Resolves once the pool is open (`carryover/status` ready), or rejects after the timeout. */
  whenReady(timeoutMs = 120_000): Promise<void> {
    if (this.ready) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`Carryover's daemon was not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Starts the daemon unless one runs; never rejects (a failure is shown to the user and in the
   * status bar). */
  start(): Promise<void> {
    return this.inTurn(async () => {
      if (!this.client) {
        await this.startNow();
      }
    });
  }

  stop(): Promise<void> {
    return this.inTurn(() => this.stopNow());
  }

  restart(): Promise<void> {
    this.pendingRestart ??= this.inTurn(async () => {
      this.pendingRestart = undefined;
      getLog().info("restarting the daemon");
      await this.stopNow();
      await this.startNow();
    });
    return this.pendingRestart;
  }

  private inTurn(operation: () => Promise<void>): Promise<void> {
    const turn = this.lifecycle.then(operation);
    this.lifecycle = turn.catch((error: unknown) => {
      getLog().error(`the daemon's lifecycle: ${errorText(error)}`);
    });
    return this.lifecycle;
  }

  private async startNow(): Promise<void> {
    await this.doStart().catch((error: unknown) => {
      this.failed(error);
    });
  }

  private async stopNow(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.ready = false;
    if (client) {
      this.stopping = true;
      try {
        if (client.state !== State.Stopped) {
          await client.stop(5000);
        }
      } catch (error) {
        getLog().warn(`stopping the daemon: ${errorText(error)}`);
      } finally {
        this.stopping = false;
        await client.dispose().catch(() => undefined);
      }
    }
    this.status.set("stopped");
  }

  /** Runs a server command (workspace/executeCommand); `argument` is its one object argument. */
  async command<T>(name: string, argument?: object): Promise<T> {
    const client = this.client;
    if (!client || !this.running) {
      throw new Error("Carryover's daemon is not running");
    }
    const result = (await client.sendRequest(ExecuteCommandRequest.type, {
      command: name,
      arguments: argument === undefined ? undefined : [argument],
    })) as T;
    return result;
  }

  /** Sends a notification when the daemon runs; dropped otherwise (capture is best effort). */
  notify(method: string, params: object): void {
    const client = this.client;
    if (client && this.running) {
      client.sendNotification(method, params).catch((error: unknown) => {
        getLog().debug(`${method} not sent: ${errorText(error)}`);
      });
    }
  }

  private async configurationChanged(): Promise<void> {
    const before = this.settings;
    const beforeKey = this.key;
    const after = readSettings(vscode.workspace.getConfiguration("carryover"));
    const afterKey = (await this.context.secrets.get(SECRET_KEY)) ?? "";
    this.settings = after;
    this.key = afterKey;
    if (needsRestart(before, beforeKey, after, afterKey)) {
      await this.restart();
      return;
    }
    const client = this.client;
    if (client && this.running) {
      await client
        .sendNotification(DidChangeConfigurationNotification.type, { settings: { carryover: this.daemonSettings() } })
        .catch((error: unknown) => {
          getLog().warn(`settings not sent: ${errorText(error)}`);
        });
    }
  }

  private async doStart(): Promise<void> {
    const log = getLog();
    this.ready = false;
    this.paused = false; // a new daemon captures until told otherwise
    this.status.set("starting");
    this.settings = readSettings(vscode.workspace.getConfiguration("carryover"));
    this.key = (await this.context.secrets.get(SECRET_KEY)) ?? "";
    let command: string[];
    try {
      const found = await serverCommand(this.settings, {
        storageDir: this.context.globalStorageUri.fsPath,
        wheelDir: this.context.asAbsolutePath("python-dist"),
        status: this.status,
      });
      command = found.command;
      if (found.python) {
        this.managedPython = found.python;
      }
    } catch (error) {
      this.failed(error);
      return;
    }
    const [executable = "", ...args] = command;
    log.info(`starting the daemon: ${command.join(" ")}`);
    const serverOptions: ServerOptions = {
      command: executable,
      args, // no `transport`: stdio without the "--stdio" argument the client would add
      options: { env: daemonEnvironment(process.env, this.key) },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      outputChannel: log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: this.daemonSettings(),
      // memory text is data: hovers, lens and hint tooltips run no command link and render no HTML
      markdown: { isTrusted: false, supportHtml: false },
      middleware: {
        provideHover: async (document, position, token, next) => untrustedHover(await next(document, position, token)),
        workspace: {
          // The daemon pulls section "carryover": answer with its settings, not the editor's raw ones.
          configuration: (params, token, next) => {
            if (params.items.every((item) => item.section === "carryover")) {
              return params.items.map(() => this.daemonSettings());
            }
            return next(params, token);
          },
        },
        executeCommand: async (name, commandArgs, next) => {
          // "show" from a code lens or code action: the memory's page rather than a message
          const first: unknown = commandArgs[0];
          if (name === CMD.show && typeof first === "object" && first !== null) {
            const { memoryId, reveal } = first as { memoryId?: unknown; reveal?: unknown };
            if (reveal === true && typeof memoryId === "string") {
              await this.hooks.revealMemory(memoryId);
              return { opened: memoryId };
            }
          }
          const result: unknown = await next(name, commandArgs);
          return result;
        },
      },
    };
    const client = new LanguageClient("carryover", "Carryover", serverOptions, clientOptions);
    client.onNotification(STATUS_NOTIFICATION, (params: StatusParams) => {
      this.onStatus(params);
    });
    client.onDidChangeState((event) => {
      if (event.newState === State.Stopped && !this.stopping && this.client === client) {
        this.ready = false;
        this.status.set("error", "The daemon stopped.");
      }
    });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      if (this.client === client) {
        this.client = undefined;
      }
      client.dispose().catch(() => undefined);
      this.failed(new Error(`the daemon did not start (${command.join(" ")}): ${errorText(error)}`));
    }
  }

  private onStatus(params: StatusParams): void {
    getLog().info(`daemon status: ${params.state}${params.message ? ` (${params.message})` : ""}`);
    switch (params.state) {
      case "ready":
        this.ready = true;
        this.status.set(this.paused ? "paused" : "ready", "", params.memories ?? undefined);
        for (const waiter of this.readyWaiters.splice(0)) {
          waiter();
        }
        this.readyEmitter.fire();
        this.changedEmitter.fire();
        break;
      case "error":
        this.status.set("error", params.message ?? "The memory pool could not be opened.");
        void vscode.window.showErrorMessage(`Carryover: ${params.message ?? "the memory pool could not be opened"}`, "Show Logs").then((choice) => {
          if (choice === "Show Logs") showLogs();
        });
        break;
      case "capture-paused":
        this.paused = true;
        if (this.ready) this.status.set("paused");
        break;
      case "capture-resumed":
        this.paused = false;
        if (this.ready) this.status.set("ready");
        break;
      case "changed": // the pool changed (a distillation, also in the background; a pin; a rejection)
        if (this.ready) this.status.set(this.paused ? "paused" : "ready", "", params.memories ?? undefined);
        this.changedEmitter.fire();
        break;
    }
  }

  private failed(error: unknown): void {
    const message = errorText(error);
    getLog().error(message);
    this.status.set("error", message);
    const pythonProblem = error instanceof UserFacingError ? error.pythonProblem : false;
    const text = pythonProblem ? message : `Carryover could not start its daemon: ${message}`;
    const buttons = pythonProblem ? ["Set Python Path", "Show Logs", "Retry"] : ["Show Logs", "Retry"];
    vscode.window
      .showErrorMessage(text, ...buttons)
      .then(async (choice) => {
        if (choice === "Set Python Path") {
          await vscode.commands.executeCommand("workbench.action.openSettings", "carryover.pythonPath");
        } else if (choice === "Show Logs") {
          showLogs();
        } else if (choice === "Retry") {
          await this.restart();
        }
      })
      .then(undefined, (failure: unknown) => {
        getLog().error(`after the start failure: ${errorText(failure)}`);
      });
  }

  dispose(): void {
    void this.stop();
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }
}

/**
 * The command that starts the daemon: the `carryover.serverCommand` setting, else `carryover serve` from
 * the managed environment, installed first (with a progress notification) when it is missing or stale.
 * Python discovery is python.ts; the environment itself is environment.ts.
 */
import * as vscode from "vscode";
import { ensureEnvironment, installedEnvironment } from "./environment";
import { getLog } from "./log";
import { findPython } from "./python";
import type { ExtensionSettings } from "./settings";
import type { StatusBar } from "./statusBar";

/** A start failure the user can act on; `pythonProblem`: offer "Set Python Path". */
export class UserFacingError extends Error {
  constructor(
    message: string,
    readonly pythonProblem: boolean,
  ) {
    super(message);
  }
}

export interface ServerCommand {
  command: string[];
  /** The managed environment's Python, when the command comes from it. */
  python?: string;
}

export interface ServerCommandContext {
  /** The extension's global storage folder (the managed environment lives there). */
  storageDir: string;
  /** The folder with the bundled wheel (python-dist in the extension). */
  wheelDir: string;
  status: StatusBar;
}

/** The command, from the setting or the managed environment (installing it when needed). */
export async function serverCommand(settings: ExtensionSettings, context: ServerCommandContext): Promise<ServerCommand> {
  if (settings.serverCommand.length > 0) {
    return { command: settings.serverCommand };
  }
  const log = getLog();
  const { storageDir, wheelDir, status } = context;
  const installed = await installedEnvironment(storageDir, wheelDir, settings.pythonPath);
  if (installed) {
    return { command: installed.serverCommand, python: installed.python };
  }
  status.set("installing");
  log.info(`installing the daemon into ${storageDir}`);
  const environment = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "Carryover: installing the daemon", cancellable: false },
    (progress) =>
      ensureEnvironment({
        storageDir,
        wheelDir,
        pythonSetting: settings.pythonPath,
        basePython: async () => {
          const search = await findPython(settings.pythonPath);
          for (const reason of search.tried) {
            log.info(`python not used: ${reason}`);
          }
          if (!search.found) {
            const tried = search.tried.length > 0 ? ` Tried: ${search.tried.join("; ")}.` : "";
            throw new UserFacingError(
              `Carryover needs Python 3.10 or newer to install its daemon and found none.${tried} Install Python or set carryover.pythonPath.`,
              true,
            );
          }
          log.info(`using Python ${search.found.version} at ${search.found.executable} (${search.found.origin})`);
          return search.found.executable;
        },
        reporter: {
          log: (line) => {
            log.info(`[install] ${line}`);
          },
          progress: (message) => {
            progress.report({ message });
            status.set("installing", message);
          },
        },
      }),
  );
  status.set("starting");
  return { command: environment.serverCommand, python: environment.python };
}

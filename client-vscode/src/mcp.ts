/**
 * Carryover's MCP server (`carryover mcp`) offered to VS Code's agents through the MCP server
 * definition provider API (`vscode.lm.registerMcpServerDefinitionProvider`, VS Code 1.101 and newer),
 * so agent mode has the memory pool with no set-up. Feature-detected at run time: the extension's
 * engine (and @types/vscode) is older, and there nothing is registered and nothing breaks.
 */
import * as vscode from "vscode";
import { installedEnvironment } from "./environment";
import { errorText, getLog } from "./log";
import { mcpServerCommand, type McpCommand } from "./mcpCommand";
import { readSettings } from "./settings";

/** The provider id, as in package.json contributes.mcpServerDefinitionProviders. */
export const MCP_PROVIDER_ID = "carryover.mcp";
export const MCP_LABEL = "Carryover memory pool";

/** What the provider reads of the daemon (its managed environment); settings are read fresh. */
export interface McpSource {
  readonly managedPython: string | undefined;
  readonly onDidBecomeReady: vscode.Event<void>;
}

// The parts of the newer API used here (not in @types/vscode 1.100).
interface McpStdioDefinition {
  label: string;
  command: string;
  args: string[];
  cwd?: vscode.Uri;
  version?: string;
}
type McpStdioDefinitionClass = new (
  label: string,
  command: string,
  args?: string[],
  env?: Record<string, string | number | null>,
  version?: string,
) => McpStdioDefinition;
interface McpProvider {
  onDidChangeMcpServerDefinitions?: vscode.Event<void>;
  provideMcpServerDefinitions(token: vscode.CancellationToken): Promise<McpStdioDefinition[]>;
  resolveMcpServerDefinition?(server: McpStdioDefinition, token: vscode.CancellationToken): McpStdioDefinition | undefined;
}
interface McpApi {
  registerMcpServerDefinitionProvider(id: string, provider: McpProvider): vscode.Disposable;
}

export interface McpRegistration extends vscode.Disposable {
  /** Whether VS Code took the provider (false: an editor without the API, or it refused). */
  readonly registered: boolean;
  /** Why not, when not. */
  readonly reason: string;
  /** What the provider gives VS Code now (for tests). */
  definitions(): Promise<McpStdioDefinition[]>;
}

export function registerMcpServer(context: vscode.ExtensionContext, source: McpSource): McpRegistration {
  const log = getLog();
  const lm = (vscode as unknown as { lm?: Partial<McpApi> }).lm;
  const Definition = (vscode as unknown as { McpStdioServerDefinition?: McpStdioDefinitionClass }).McpStdioServerDefinition;
  const changed = new vscode.EventEmitter<void>();
  const disposables: vscode.Disposable[] = [changed];
  const version = (context.extension.packageJSON as { version?: string }).version ?? "0";

  const command = async (): Promise<McpCommand | undefined> => {
    const settings = readSettings(vscode.workspace.getConfiguration("carryover"));
    let python = source.managedPython;
    if (settings.serverCommand.length === 0 && !python) {
      const installed = await installedEnvironment(context.globalStorageUri.fsPath, context.asAbsolutePath("python-dist"), settings.pythonPath).catch(
        () => undefined,
      );
      python = installed?.python;
    }
    return mcpServerCommand(settings.serverCommand, python);
  };
  const definitions = async (): Promise<McpStdioDefinition[]> => {
    if (!Definition) {
      return [];
    }
    const found = await command();
    if (!found) {
      log.info("MCP server: not offered yet (no managed environment installed, or carryover.serverCommand has no `serve`)");
      return [];
    }
    const definition = new Definition(MCP_LABEL, found.command, found.args, {}, version);
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    if (folder?.scheme === "file") {
      definition.cwd = folder;
    }
    return [definition];
  };

  let registered = false;
  let reason = "";
  if (typeof lm?.registerMcpServerDefinitionProvider !== "function" || typeof Definition !== "function") {
    reason = `this editor (VS Code ${vscode.version}) has no MCP server definition provider API`;
    log.info(`MCP server not registered: ${reason}`);
  } else {
    try {
      disposables.push(
        lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
          onDidChangeMcpServerDefinitions: changed.event,
          provideMcpServerDefinitions: definitions,
          resolveMcpServerDefinition: (server) => server,
        }),
        // the managed environment's Python is known once the daemon ran; settings may change the command
        source.onDidBecomeReady(() => {
          changed.fire();
        }),
        vscode.workspace.onDidChangeConfiguration((event) => {
          if (event.affectsConfiguration("carryover.serverCommand") || event.affectsConfiguration("carryover.pythonPath")) {
            changed.fire();
          }
        }),
      );
      registered = true;
      log.info(`MCP server definition provider ${MCP_PROVIDER_ID} registered`);
    } catch (error) {
      reason = `VS Code refused the MCP server definition provider: ${errorText(error)}`;
      log.warn(reason);
    }
  }
  return {
    registered,
    reason,
    definitions,
    dispose: () => {
      for (const disposable of disposables) {
        disposable.dispose();
      }
    },
  };
}

/**
 * The command that starts Carryover's MCP server (`carryover mcp`, stdio) for VS Code's agents: the
 * same environment as the daemon. From the managed environment: its Python, `-m carryover mcp`. From
 * the `carryover.serverCommand` setting: that command with its `serve` subcommand replaced by `mcp`
 * (the options before it, such as `--db`, kept; serve's own options after it dropped). Pure: no vscode
 * import.
 */

export interface McpCommand {
  command: string;
  args: string[];
}

export const MCP_SUBCOMMAND = "mcp";

/** Undefined when neither gives one (no managed environment yet, a serverCommand without `serve`). */
export function mcpServerCommand(serverCommand: readonly string[], managedPython: string | undefined): McpCommand | undefined {
  if (serverCommand.length > 0) {
    const serve = serverCommand.lastIndexOf("serve");
    const [command, ...before] = serverCommand.slice(0, serve);
    if (serve < 1 || command === undefined || command === "") {
      return undefined;
    }
    return { command, args: [...before, MCP_SUBCOMMAND] };
  }
  if (managedPython) {
    return { command: managedPython, args: ["-m", "carryover", MCP_SUBCOMMAND] };
  }
  return undefined;
}

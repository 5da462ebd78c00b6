/**
 * The extension's settings (section `carryover`), read once into a typed object, and their mapping to
 * the daemon's settings object (server/settings.py, camelCase on the wire). Pure: no vscode import, so
 * node:test can check it.
 */

export interface Surfaces {
  hover: boolean;
  codeActions: boolean;
  codeLens: boolean;
  inlayHints: boolean;
  diagnostics: boolean;
}

/** The judge (the daemon's recall/judge.py): a chat model that re-reads the top candidates of a
 * diagnostic's or a failed run's moment in the background. Off unless enabled. */
export interface JudgeSettings {
  enabled: boolean;
  endpoint: string;
  model: string;
  candidates: number;
  timeoutMs: number;
  maxTokens: number;
}

export interface ExtensionSettings {
  pythonPath: string;
  serverCommand: string[];
  endpoint: string;
  model: string;
  scopes: string[];
  exclude: string[];
  surfaces: Surfaces;
  relevanceThreshold: number;
  strongThreshold: number;
  maxResults: number;
  capture: { terminal: boolean; diagnostics: boolean };
  logLevel: string;
  embedAhead: boolean;
  judge: JudgeSettings;
}

/** What the daemon accepts (server/settings.py: Settings), as sent in initializationOptions. The API
 * key is not among them: it goes to the daemon's environment (API_KEY_VARIABLE), so that no message
 * carries it (a verbose trace would write messages to the log). */
export interface DaemonSettings {
  endpoint: string;
  model: string;
  scopes: string[];
  exclude: string[];
  surfaces: Surfaces;
  relevanceThreshold: number;
  strongThreshold: number;
  maxResults: number;
  capture: boolean;
  logLevel: string;
  embedAhead: boolean;
  judge: JudgeSettings;
}

/** The daemon reads the endpoint's API key from this variable (server/distill/llm.py). */
export const API_KEY_VARIABLE = "CARRYOVER_DISTILL_API_KEY";

/** The daemon's environment: the editor's, with the API key from SecretStorage when one is set. */
export function daemonEnvironment(base: NodeJS.ProcessEnv, key: string): NodeJS.ProcessEnv {
  return key ? { ...base, [API_KEY_VARIABLE]: key } : { ...base };
}

/** The part of vscode.WorkspaceConfiguration used here. */
export interface ConfigurationLike {
  get(section: string): unknown;
}

export const DEFAULTS: ExtensionSettings = {
  pythonPath: "",
  serverCommand: [],
  endpoint: "",
  model: "",
  scopes: ["project", "global", "team"],
  exclude: [],
  surfaces: { hover: true, codeActions: true, codeLens: true, inlayHints: false, diagnostics: true },
  relevanceThreshold: 0,
  strongThreshold: 0.5,
  maxResults: 3,
  capture: { terminal: true, diagnostics: true },
  logLevel: "info",
  embedAhead: true,
  judge: { enabled: false, endpoint: "", model: "", candidates: 30, timeoutMs: 8000, maxTokens: 400 },
};

const LOG_LEVELS = ["off", "error", "warning", "info", "debug"];

function str(value: unknown, fallback: string): string {
  return typeof value === "string" ? value.trim() : fallback;
}

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === "boolean" ? value : fallback;
}

function num(value: unknown, fallback: number, low: number, high: number): number {
  return typeof value === "number" && Number.isFinite(value) && value >= low && value <= high ? value : fallback;
}

function strings(value: unknown, fallback: string[]): string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string") ? [...value] : [...fallback];
}

/** Typed settings from `workspace.getConfiguration("carryover")`; a value of the wrong type is replaced
 * by its default (the daemon would reject the whole change otherwise). */
export function readSettings(config: ConfigurationLike): ExtensionSettings {
  const d = DEFAULTS;
  const logLevel = str(config.get("logLevel"), d.logLevel);
  return {
    pythonPath: str(config.get("pythonPath"), d.pythonPath),
    serverCommand: strings(config.get("serverCommand"), d.serverCommand).filter((part) => part.length > 0),
    endpoint: str(config.get("endpoint"), d.endpoint),
    model: str(config.get("model"), d.model),
    scopes: strings(config.get("scopes"), d.scopes).filter((scope) => d.scopes.includes(scope)),
    exclude: strings(config.get("exclude"), d.exclude),
    surfaces: {
      hover: bool(config.get("surfaces.hover"), d.surfaces.hover),
      codeActions: bool(config.get("surfaces.codeActions"), d.surfaces.codeActions),
      codeLens: bool(config.get("surfaces.codeLens"), d.surfaces.codeLens),
      inlayHints: bool(config.get("surfaces.inlayHints"), d.surfaces.inlayHints),
      diagnostics: bool(config.get("surfaces.diagnostics"), d.surfaces.diagnostics),
    },
    relevanceThreshold: num(config.get("relevanceThreshold"), d.relevanceThreshold, 0, 1),
    strongThreshold: num(config.get("strongThreshold"), d.strongThreshold, 0, 1),
    maxResults: Math.round(num(config.get("maxResults"), d.maxResults, 1, 10)),
    capture: {
      terminal: bool(config.get("capture.terminal"), d.capture.terminal),
      diagnostics: bool(config.get("capture.diagnostics"), d.capture.diagnostics),
    },
    logLevel: LOG_LEVELS.includes(logLevel) ? logLevel : d.logLevel,
    embedAhead: bool(config.get("embedAhead"), d.embedAhead),
    judge: {
      enabled: bool(config.get("judge.enabled"), d.judge.enabled),
      endpoint: str(config.get("judge.endpoint"), d.judge.endpoint),
      model: str(config.get("judge.model"), d.judge.model),
      candidates: Math.round(num(config.get("judge.candidates"), d.judge.candidates, 20, 50)),
      timeoutMs: Math.round(num(config.get("judge.timeoutMs"), d.judge.timeoutMs, 500, 60_000)),
      maxTokens: Math.round(num(config.get("judge.maxTokens"), d.judge.maxTokens, 64, 2000)),
    },
  };
}

/** The daemon's settings object. `capture` switches event recording as a whole (edits and saves too),
 * so it stays on unless both kinds of capture the extension forwards are off. */
export function toDaemonSettings(settings: ExtensionSettings): DaemonSettings {
  return {
    endpoint: settings.endpoint,
    model: settings.model,
    scopes: [...settings.scopes],
    exclude: [...settings.exclude],
    surfaces: { ...settings.surfaces },
    relevanceThreshold: settings.relevanceThreshold,
    strongThreshold: settings.strongThreshold,
    maxResults: settings.maxResults,
    capture: settings.capture.terminal || settings.capture.diagnostics,
    logLevel: settings.logLevel,
    embedAhead: settings.embedAhead,
    judge: { ...settings.judge },
  };
}

/** Changes that need a new daemon process (another interpreter or command, another model endpoint). */
export function needsRestart(before: ExtensionSettings, beforeKey: string, after: ExtensionSettings, afterKey: string): boolean {
  return (
    before.pythonPath !== after.pythonPath ||
    before.serverCommand.join("\u0000") !== after.serverCommand.join("\u0000") ||
    before.endpoint !== after.endpoint ||
    before.model !== after.model ||
    beforeKey !== afterKey
  );
}

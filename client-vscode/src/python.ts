/**
 * Finding a Python ≥ 3.10 to create the managed environment with: the `carryover.pythonPath` setting,
 * then the Python extension's active interpreter (when that extension is installed; optional), then
 * `python3` / `python` on PATH.
 */
import * as vscode from "vscode";
import { run } from "./process";

export const MIN_VERSION: [number, number] = [3, 10];

export interface PythonFound {
  executable: string;
  version: string;
  /** Where it came from: "setting", "Python extension", "PATH". */
  origin: string;
}

export interface PythonSearch {
  found?: PythonFound;
  /** Every candidate tried and why it was not used. */
  tried: string[];
}

const PROBE = [
  "import sys",
  "print('%d.%d.%d' % sys.version_info[:3])",
  "print(sys.executable)",
  "import venv",
  "try:\n    import ensurepip\n    print('ensurepip')\nexcept Exception:\n    print('no-ensurepip')",
].join("\n");

export function parseVersion(text: string): [number, number, number] | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

export function supported(version: [number, number, number]): boolean {
  return version[0] > MIN_VERSION[0] || (version[0] === MIN_VERSION[0] && version[1] >= MIN_VERSION[1]);
}

/** Checks one interpreter; returns the reason when it cannot be used. */
export async function probe(command: string, origin: string): Promise<PythonFound | string> {
  const result = await run(command, ["-c", PROBE], { timeoutMs: 20_000 });
  if (result.error || result.code !== 0) {
    const detail = result.error?.message ?? (result.stderr.trim().split("\n").pop() || `exit code ${result.code ?? "?"}`);
    return `${command} (${origin}): ${detail}`;
  }
  const [versionLine = "", executable = command, pip = ""] = result.stdout.trim().split(/\r?\n/);
  const version = parseVersion(versionLine);
  if (!version) {
    return `${command} (${origin}): could not read its version`;
  }
  if (!supported(version)) {
    return `${command} (${origin}): Python ${versionLine.trim()} is older than ${MIN_VERSION.join(".")}`;
  }
  if (pip.trim() === "no-ensurepip") {
    return `${command} (${origin}): Python ${versionLine.trim()} cannot create virtual environments (on Debian/Ubuntu: apt install python3-venv)`;
  }
  return { executable: executable.trim() || command, version: versionLine.trim(), origin };
}

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment(environment: { path: string } | string): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
}

/** The Python extension's active interpreter, if that extension is installed (never required). */
async function fromPythonExtension(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>("ms-python.python");
  if (!extension) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const environments = api.environments;
    if (!environments) {
      return undefined;
    }
    const active = environments.getActiveEnvironmentPath(vscode.workspace.workspaceFolders?.[0]?.uri);
    if (!active) {
      return undefined;
    }
    const resolved = await environments.resolveEnvironment(active);
    return resolved?.executable?.uri?.fsPath ?? active.path;
  } catch {
    return undefined;
  }
}

export async function findPython(pythonPath: string): Promise<PythonSearch> {
  const tried: string[] = [];
  const candidates: [string, string][] = [];
  if (pythonPath) {
    candidates.push([pythonPath, "setting carryover.pythonPath"]);
  } else {
    // an untrusted folder may have chosen the Python extension's interpreter (its own .venv): not run
    const fromExtension = vscode.workspace.isTrusted ? await fromPythonExtension() : undefined;
    if (fromExtension) {
      candidates.push([fromExtension, "Python extension"]);
    }
    const names = process.platform === "win32" ? ["python", "py", "python3"] : ["python3", "python"];
    for (const name of names) {
      candidates.push([name, "PATH"]);
    }
  }
  for (const [command, origin] of candidates) {
    const result = await probe(command, origin);
    if (typeof result !== "string") {
      return { found: result, tried };
    }
    tried.push(result);
  }
  return { tried };
}

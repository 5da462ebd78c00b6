/** Running a program and collecting its output (no vscode import). */
import { spawn } from "node:child_process";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Each line of stdout and stderr as it comes. */
  onLine?: (line: string) => void;
}

export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let pending = "";
    const emit = (text: string, flush: boolean): void => {
      if (!options.onLine) {
        return;
      }
      pending += text;
      const lines = pending.split(/\r?\n|\r/);
      pending = flush ? "" : (lines.pop() ?? "");
      for (const line of lines) {
        if (line.trim()) {
          options.onLine(line);
        }
      }
    };
    let child;
    try {
      child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, windowsHide: true });
    } catch (error) {
      resolve({ code: null, stdout, stderr, error: error as Error });
      return;
    }
    const timer = options.timeoutMs
      ? setTimeout(() => {
          stderr += `\n(timed out after ${options.timeoutMs ?? 0} ms)`;
          child.kill();
        }, options.timeoutMs)
      : undefined;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (data: string) => {
      stdout += data;
      emit(data, false);
    });
    child.stderr.on("data", (data: string) => {
      stderr += data;
      emit(data, false);
    });
    child.on("error", (error) => {
      if (timer) clearTimeout(timer);
      resolve({ code: null, stdout, stderr, error });
    });
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      emit("", true);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * "Run validation": which check commands a memory may have run in a terminal, and the exact line typed
 * there. Memory text is data: a command runs only when all of it is one visible line, shown whole in
 * the confirmation. Refused: more than one line (LF, CR, U+0085, U+2028/9: a terminal would run each
 * line, the later ones unconfirmed), control and invisible characters (escape sequences, tabs that a
 * shell completes, bidirectional overrides and zero-width characters that make the confirmation show
 * something else than what runs), a trailing backslash (the shell would wait for a next line and take
 * what is typed next), and commands too long to read in a dialog. `;` and `&&` chains on the one line
 * are allowed: the whole line is what the person confirms. Pure: no vscode import.
 */

export const MAX_COMMAND_LENGTH = 500;

export type CheckedCommand =
  | { ok: true; command: string; cwd: string | undefined; line: string }
  | { ok: false; reason: string };

const LINE_BREAK = /[\n\r\u0085\u2028\u2029]/;
// Cc: C0 and C1 controls, DEL (ESC, TAB, NUL, ...); Cf: format characters (bidi overrides and
// isolates, zero-width space/joiners, soft hyphen, BOM, ...)
const INVISIBLE = /[\p{Cc}\p{Cf}]/u;

function codePoint(text: string, pattern: RegExp): string {
  const found = pattern.exec(text)?.[0] ?? "";
  return `U+${(found.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Shell quoting for a folder (POSIX shells): plain when safe, else single quotes. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/** Whether the command (and folder) may run, and the one line that then goes to the terminal. */
export function checkValidationCommand(command: unknown, cwd: unknown): CheckedCommand {
  if (typeof command !== "string" || command.trim() === "") {
    return { ok: false, reason: "no validation command was given." };
  }
  const text = command.replace(/^ +| +$/g, "");
  if (LINE_BREAK.test(text)) {
    const lines = text.split(/\r\n|[\n\r\u0085\u2028\u2029]/).filter((line) => line.trim()).length;
    return {
      ok: false,
      reason: `the memory's check command has ${lines > 1 ? `${lines} lines` : "a line break"}; Carryover runs only a single-line command, so that what you confirm is all that runs. Open the memory to read it.`,
    };
  }
  if (INVISIBLE.test(text)) {
    return {
      ok: false,
      reason: `the memory's check command contains a control or invisible character (${codePoint(text, INVISIBLE)}); what you would confirm is not what would run.`,
    };
  }
  if (text.length > MAX_COMMAND_LENGTH) {
    return { ok: false, reason: `the memory's check command is ${text.length} characters long (at most ${MAX_COMMAND_LENGTH} are run), too long to check in a dialog.` };
  }
  if (/\\$/.test(text)) {
    return { ok: false, reason: "the memory's check command ends with a backslash: the shell would wait for, and run, whatever is typed next." };
  }
  let folder: string | undefined;
  if (typeof cwd === "string" && cwd !== "") {
    if (LINE_BREAK.test(cwd) || INVISIBLE.test(cwd)) {
      return { ok: false, reason: `the folder to run the check command in contains a control character (${codePoint(cwd, LINE_BREAK.test(cwd) ? LINE_BREAK : INVISIBLE)}).` };
    }
    folder = cwd;
  }
  return { ok: true, command: text, cwd: folder, line: folder ? `cd ${shellQuote(folder)} && ${text}` : text };
}

/** The confirmation dialog's text: the exact line, the folder, and where it runs. */
export function confirmationDetail(checked: { line: string; cwd: string | undefined }, terminal: string): string {
  return [
    checked.line,
    "",
    `in ${checked.cwd ?? "the terminal's current folder"}, in the terminal “${terminal}”.`,
    "",
    "Suggested by a Carryover memory: exactly this line runs. Check it before running it.",
  ].join("\n");
}

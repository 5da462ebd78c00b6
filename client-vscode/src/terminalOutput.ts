/**
 * A terminal command's output, bounded and cleaned for the daemon: at most HEAD_CHARS from the start
 * and TAIL_CHARS from the end, ANSI sequences and carriage-return redraws removed. Pure (no vscode).
 */

/** What the daemon keeps of a command's output (server/capture/terminal.py): nothing more is sent. */
export const HEAD_CHARS = 2000;
export const TAIL_CHARS = 4000;
/** Raw text kept at each end before cleaning: escape sequences and redraws take room. */
const RAW_FACTOR = 4;

// CSI (colours, cursor movement), OSC (titles, links, shell-integration marks: ended by BEL or ST),
// DCS/SOS/PM/APC strings, and two-byte escapes.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[@-Z\\-_]/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

/** Text without ANSI sequences, with what was drawn last on each line after carriage returns, and
 * without other control characters. */
export function stripAnsi(text: string): string {
  let clean = text.replace(ANSI, "").replace(/\r\n/g, "\n");
  if (clean.includes("\r")) {
    clean = clean
      .split("\n")
      .map((line) => {
        const parts = line.split("\r");
        // a redraw that ends the line (a trailing "\r") keeps the last non-empty drawing
        for (let i = parts.length - 1; i >= 0; i--) {
          const part = parts[i] ?? "";
          if (part.length > 0) {
            return part;
          }
        }
        return "";
      })
      .join("\n");
  }
  return clean.replace(CONTROL, "");
}

export interface BoundedOutput {
  outputHead: string;
  outputTail: string;
  outputTruncated: boolean;
}

/** Bounded head and tail of (already cleaned) text. All of it fits: everything in the head. Up to
 * both limits: split between head and tail, nothing lost. Longer: the two ends, truncated. */
export function boundOutput(text: string, headChars = HEAD_CHARS, tailChars = TAIL_CHARS): BoundedOutput {
  if (text.length <= headChars) {
    return { outputHead: text, outputTail: "", outputTruncated: false };
  }
  if (text.length <= headChars + tailChars) {
    return { outputHead: text.slice(0, headChars), outputTail: text.slice(headChars), outputTruncated: false };
  }
  return { outputHead: text.slice(0, headChars), outputTail: text.slice(text.length - tailChars), outputTruncated: true };
}

/** Collects streamed output chunks keeping only the two raw ends, so a command that prints megabytes
 * costs a bounded amount of memory. */
export class OutputCollector {
  private head = "";
  private tail = "";
  private dropped = false;
  private readonly rawHead: number;
  private readonly rawTail: number;

  constructor(
    private readonly headChars = HEAD_CHARS,
    private readonly tailChars = TAIL_CHARS,
  ) {
    this.rawHead = headChars * RAW_FACTOR;
    this.rawTail = tailChars * RAW_FACTOR;
  }

  push(chunk: string): void {
    if (!chunk) {
      return;
    }
    if (this.head.length < this.rawHead) {
      const room = this.rawHead - this.head.length;
      this.head += chunk.slice(0, room);
      chunk = chunk.slice(room);
      if (!chunk) {
        return;
      }
    }
    this.tail += chunk;
    if (this.tail.length > this.rawTail * 2) {
      this.dropped = true;
      this.tail = this.tail.slice(this.tail.length - this.rawTail);
    }
  }

  result(): BoundedOutput {
    if (!this.dropped) {
      return boundOutput(stripAnsi(this.head + this.tail), this.headChars, this.tailChars);
    }
    let tail = this.tail.slice(this.tail.length - this.rawTail);
    const firstBreak = tail.indexOf("\n");
    if (firstBreak >= 0 && firstBreak < tail.length - 1) {
      tail = tail.slice(firstBreak + 1); // start at a whole line (no half escape sequence)
    }
    const head = stripAnsi(this.head).slice(0, this.headChars);
    const cleanTail = stripAnsi(tail);
    return {
      outputHead: head,
      outputTail: cleanTail.slice(Math.max(0, cleanTail.length - this.tailChars)),
      outputTruncated: true,
    };
  }
}

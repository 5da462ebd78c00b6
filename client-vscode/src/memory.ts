/** A memory as the daemon sends it (memory_store/jsonl.py: memory_to_json; hits add score and why). */
export interface Memory {
  id: string;
  kind: string;
  title: string;
  description: string;
  content: string;
  outcome: string;
  languages: string[];
  tools: string[];
  scope: string;
  status: string;
  when_not?: string;
  check_command?: string;
  provenance?: { episode_ids?: string[]; workspace?: string; source?: string; distilled_by?: string };
  created_at?: string;
  updated_at?: string;
  helpful?: number;
  unhelpful?: number;
  merged_count?: number;
  reject_reason?: string;
}

export interface Hit extends Memory {
  score?: number;
  why?: { similarity?: number; line?: string; pinned?: boolean };
  line?: number;
  basis?: string;
}

const TEXT = ["kind", "title", "description", "content", "outcome", "scope", "status"];
const OPTIONAL_TEXT = ["when_not", "check_command", "reject_reason", "created_at", "updated_at", "basis"];
const NUMBERS = ["helpful", "unhelpful", "merged_count", "score", "line"];

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/** The entries whose value fits the field: text fields strings, counts finite numbers. */
function fitting(record: Record<string, unknown>, text: string[], numbers: string[]): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).filter(([key, value]) => {
      if (text.includes(key)) return typeof value === "string";
      if (numbers.includes(key)) return typeof value === "number" && Number.isFinite(value);
      return true;
    }),
  );
}

/** Accepts what a command returns as a memory: an object with a string id and title, its other text
 * fields made strings and its tag lists lists of strings (a daemon of another version, an imported
 * memory with odd fields, must not break a view); anything else is undefined. */
export function asMemory(value: unknown): Memory | undefined {
  if (typeof value !== "object" || value === null) {
    return undefined;
  }
  const record = value as Record<string, unknown>;
  if (typeof record.id !== "string" || record.id === "" || typeof record.title !== "string") {
    return undefined;
  }
  const memory = fitting(record, OPTIONAL_TEXT, NUMBERS);
  for (const field of TEXT) {
    memory[field] = typeof record[field] === "string" ? record[field] : "";
  }
  memory.languages = strings(record.languages);
  memory.tools = strings(record.tools);
  if (typeof record.provenance === "object" && record.provenance !== null) {
    const given = fitting(record.provenance as Record<string, unknown>, ["workspace", "source", "distilled_by"], []);
    memory.provenance = { ...given, episode_ids: strings(given.episode_ids) };
  } else {
    memory.provenance = {};
  }
  if (typeof record.why === "object" && record.why !== null) {
    memory.why = fitting(record.why as Record<string, unknown>, ["line"], ["similarity"]);
  } else {
    delete memory.why;
  }
  return memory as unknown as Memory;
}

export function asMemories(value: unknown): Hit[] {
  return Array.isArray(value) ? value.map(asMemory).filter((m): m is Memory => m !== undefined) : [];
}

/** Statuses with a view of their own, left out of Recent: a rejected memory is never shown, a proposed
 * one not until it is accepted. */
export const OWN_VIEW_STATUSES: readonly string[] = ["rejected", "proposed"];

/** What a list view shows of what `carryover.list` returned: the memories of its status; for Recent
 * (no status) all but those with a view of their own. */
export function memoriesForView<T extends Memory>(memories: T[], status: string | undefined): T[] {
  return status ? memories.filter((memory) => memory.status === status) : memories.filter((memory) => !OWN_VIEW_STATUSES.includes(memory.status));
}

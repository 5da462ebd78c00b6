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

/** Accepts what a command returns as a memory; anything else is undefined. */
export function asMemory(value: unknown): Memory | undefined {
  if (typeof value !== "object" || value === null) {
    return undefined;
  }
  const record = value as Record<string, unknown>;
  return typeof record.id === "string" && typeof record.title === "string" ? (value as Memory) : undefined;
}

export function asMemories(value: unknown): Hit[] {
  return Array.isArray(value) ? value.map(asMemory).filter((m): m is Memory => m !== undefined) : [];
}

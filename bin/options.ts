/** Parsers for option values shared by several commands. */

/** `K=16,V=32` → { K: 16, V: 32 }; a string is an error message. */
export function parseDims(text: string | undefined): Record<string, number> | string | undefined {
  if (!text) return undefined;
  return parseAssignments(text, '--dims');
}

export function parseAssignments(text: string, flag: string): Record<string, number> | string {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\d+)$/.exec(part);
    if (!m) return `${flag} expects NAME=INTEGER pairs separated by commas (e.g. ${flag === '--dims' ? 'K=16,V=16' : 'B=2,T=128,H=4'}), found '${part}'`;
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

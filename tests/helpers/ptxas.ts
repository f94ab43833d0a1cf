/** ptxas's `-v` report, per kernel: registers, stack frame, spills and static shared memory. */
export interface PtxasEntry {
  fn: string;
  arch: string;
  registers: number;
  stack: number;
  spillStores: number;
  spillLoads: number;
  smem: number;
}

/** The entries of an nvcc run's output with `-Xptxas -v`, one per compiled entry function and architecture. */
export function parsePtxas(text: string): PtxasEntry[] {
  const out: PtxasEntry[] = [];
  let cur: PtxasEntry | undefined;
  for (const line of text.split('\n')) {
    const fn = /Compiling entry function '([^']+)' for '([^']+)'/.exec(line);
    if (fn) {
      cur = { fn: fn[1]!, arch: fn[2]!, registers: 0, stack: 0, spillStores: 0, spillLoads: 0, smem: 0 };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const sp = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (sp) {
      cur.stack = Number(sp[1]);
      cur.spillStores = Number(sp[2]);
      cur.spillLoads = Number(sp[3]);
    }
    const reg = /Used (\d+) registers/.exec(line);
    if (reg) cur.registers = Number(reg[1]);
    const sm = /(\d+) bytes smem/.exec(line);
    if (sm) cur.smem = Number(sm[1]);
  }
  return out;
}

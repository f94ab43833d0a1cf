/**
 * Loop-invariant parameter loads out of loops: a per-head parameter read inside the sequence loop
 * (Gated DeltaNet's `p_A_log[h]` and `p_dt_bias[h]` in every chunk's gate) is read once, by a
 * `let` in front of the outermost loop it does not vary in. The backends cannot do it themselves:
 * a chunk kernel's loop body writes memory, and a load they cannot prove unaliased is repeated,
 * each time a global-memory latency at the top of a chunk. Integer divisions by a run-time value
 * (a grouped head's index) are computed once per chunk likewise, instead of at every load.
 */
import { mapOperands, mapStmtExprs, walkSExpr } from '../kernel-ir/analysis.ts';
import * as b from '../kernel-ir/build.ts';
import type { SExpr, Stmt } from '../kernel-ir/types.ts';

/** Names a body binds: its loop variables and lets, and the element variables of its tile ops. */
function boundIn(body: Stmt[]): Set<string> {
  const out = new Set<string>(['r', 'c', 'lid']);
  const visit = (ss: Stmt[]) => {
    for (const s of ss) {
      if (s.op === 'let') out.add(s.name);
      else if (s.op === 'for') {
        out.add(s.v);
        visit(s.body);
      } else if (s.op === 'if') {
        visit(s.then);
        visit(s.else);
      }
      for (const e of exprsOf(s)) walkSExpr(e, (x) => void (x.k === 'fold' && out.add(x.v)));
    }
  };
  visit(body);
  return out;
}

function exprsOf(s: Stmt): SExpr[] {
  const out: SExpr[] = [];
  mapStmtExprs(s, (e) => (out.push(e), e));
  return out;
}

/**
 * Hoist the loads of `params` (read-only parameter buffers) whose index uses no name bound inside
 * the loop, out of each top-level `for` of `body`; the hoisted values are `let hp<n>` before it.
 * Loads under a select or in a fold are hoisted too: a parameter read is in bounds for any head.
 * Loop-invariant integer divisions and remainders by a run-time value go to the top of the loop's
 * body (once per iteration instead of once per use), and both out of a top-level `if` (the
 * intra-chunk kernel's body, under its range check).
 */
export function hoistInvariants(body: Stmt[], params: ReadonlySet<string>): Stmt[] {
  let n = 0;
  const out: Stmt[] = [];
  for (const s of body) {
    if (s.op !== 'for' && s.op !== 'if') {
      out.push(s);
      continue;
    }
    const bound = boundIn([s]);
    const invariant = (e: SExpr): boolean => {
      let ok = true;
      walkSExpr(e, (x) => {
        if ((x.k === 'var' && bound.has(x.name)) || x.k === 'tile' || x.k === 'ld' || x.k === 'fold') ok = false;
      });
      return ok;
    };
    const names = new Map<string, string>();
    // Lets at the top of a loop's body (divisions: computed once per iteration, not held in a
    // register across the loop, where the chunk kernels are short of them).
    const top: Stmt[] = [];
    const hoisted = (e: SExpr, front = false): SExpr => {
      const key = JSON.stringify(e);
      let name = names.get(key);
      if (!name) {
        name = `hp${n++}`;
        names.set(key, name);
        (front && s.op === 'for' ? top : out).push({ op: 'let', name, value: e });
      }
      return b.v(name);
    };
    const rewrite = (e: SExpr): SExpr => {
      if (e.k === 'ld' && params.has(e.buf) && invariant(e.idx)) return hoisted(e);
      // An integer division by a value known only at run time (a grouped head's index, h·H_k / H):
      // some 30 instructions each, which the backends repeat for every load under a guard.
      if (e.k === 'bin' && (e.fn === 'idiv' || e.fn === 'mod') && e.b.k !== 'const' && invariant(e)) return hoisted(e, true);
      return mapOperands(e, rewrite);
    };
    const inBody = (ss: Stmt[]): Stmt[] =>
      ss.map((x) => {
        const y = mapStmtExprs(x, rewrite);
        if (y.op === 'for') return { ...y, body: inBody(y.body) };
        if (y.op === 'if') return { ...y, then: inBody(y.then), else: inBody(y.else) };
        return y;
      });
    if (s.op === 'if') out.push({ ...s, then: inBody(s.then), else: inBody(s.else) });
    else {
      const loop = inBody(s.body);
      out.push({ ...s, body: [...top, ...loop] });
    }
  }
  return out;
}

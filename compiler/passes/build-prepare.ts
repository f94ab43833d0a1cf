/**
 * The prepare kernel: per-token quantities that are not elementwise (norms, softmaxes, products
 * with parameter matrices, Taylor features) are computed here, R tokens × one head per
 * workgroup, and written to scratch buffers f_<name> [NT, H, width] for the main kernel.
 */
import * as b from '../kernel-ir/build.ts';
import type { Kernel } from '../kernel-ir/types.ts';
import { featBuf, P, programBuffers, programParams, tokinfoBuffer, type RowTokens } from './buffers.ts';
import { preparedBuffers } from './build-chunk.ts';
import { KernelBuilder } from './kernel-builder.ts';
import type { PlanState, Quantity } from './plan.ts';
import { Sources } from './sources.ts';

/** `read`: the buffers the program's other kernels read (a prepared quantity none reads is not computed). */
export function buildPrepareKernel(st: PlanState, read?: ReadonlySet<string>): Kernel | undefined {
  const prepared = Object.entries(st.quantities ?? {}).filter(([n, p]) => p!.how === 'prepared' && (!read || read.has(featBuf(n)))) as [Quantity, NonNullable<PlanState['quantities']>[Quantity]][];
  if (prepared.length === 0) return undefined;
  const ir = st.ir;
  const Rr = st.tiling!.prepareRows;
  const kb = new KernelBuilder(`${ir.name}_prepare`);
  const tok0 = kb.let('tok0', b.mul(b.wg(0), b.i(Rr)));
  const h = kb.let('h', b.wg(1));
  const rows = kb.let('rows', b.min(b.i(Rr), b.sub(P.NT, tok0)));
  const src = new Sources(st);
  const rt: RowTokens = {
    tok: (r) => b.add(tok0, r),
    pos: (r) => b.ld('tokinfo', b.mul(b.add(tok0, r), b.i(2))),
    len: (r) => b.ld('tokinfo', b.add(b.mul(b.add(tok0, r), b.i(2)), b.i(1))),
    head: h,
  };
  for (const [name, qp] of prepared) {
    kb.note(`${name} = ${qp!.why}`);
    const e = src.computed(kb, name, Rr, rt, rows);
    const w = Math.max(1, qp!.width);
    const idx = b.add(b.mul(b.add(b.mul(b.add(tok0, b.R), P.H), h), b.i(w)), qp!.width ? b.C : b.i(0));
    // The store's value is an expression: this tile only lends the store its shape (R × width).
    // No op reads or writes it, so it takes no workgroup memory (see usedTiles, sharedBytes).
    const anchor = kb.tile(`W${name}`, Rr, w);
    kb.op({ op: 'store', src: anchor, dst: { buf: featBuf(name), index: idx, rows, cols: b.i(w) }, value: e.at(b.R, b.C) });
  }
  const buffers = [...programBuffers(ir, 'f32'), ...preparedBuffers(st), tokinfoBuffer];
  return kb.build([b.ceilDiv(P.NT, b.i(Rr)), P.H, b.i(1)], st.tiling!.threads, programParams(ir), buffers, `${ir.name}: per-token feature maps and gate arguments, ${Rr} tokens × one head per workgroup`);
}

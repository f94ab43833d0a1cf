/** The plan after any pass, readably (`attnc explain --target T --dump-after PASS`). */
import { printProgram } from '../kernel-ir/print.ts';
import { printTExpr } from '../ir/print.ts';
import type { PlanState } from './plan.ts';

export function printPlan(st: PlanState): string {
  const L: string[] = [`plan for ${st.ir.name} on ${st.target.name} (${st.target.description})`];
  if (st.form) L.push(`  form: ${st.form}`);
  if (st.quantities) {
    L.push('  per-token quantities:');
    for (const [n, q] of Object.entries(st.quantities)) L.push(`    ${n.padEnd(9)} ${q!.how.padEnd(9)} [${q!.width || 'scalar'}]  ${printTExpr(q!.expr)}   — ${q!.why}`);
  }
  if (st.tiling) L.push(`  tiling: ${st.tiling.why}${st.quantities && Object.values(st.quantities).some((q) => q!.how === 'prepared') ? `; prepare kernel: ${st.tiling.prepareRows} tokens per workgroup` : ''}`);
  if (st.program) L.push('', printProgram(st.program));
  else if (st.notes.length) for (const n of st.notes) L.push(`  note: ${n}`);
  return L.join('\n');
}

import { parseAndCheck } from './compiler/frontend.ts';
import { renderDiagnostics } from './compiler/diagnostics/render.ts';
import { readFileSync } from 'node:fs';
for (const f of process.argv.slice(2)) {
  const r = parseAndCheck(readFileSync(f, 'utf8'), f);
  console.log(renderDiagnostics(r.diagnostics) || 'ok', r.specs.map(s => [s.name, s.family, s.keyDim, s.valueDim, s.gate?.range, s.rule.kind === 'named' ? s.rule.name : 'eq']));
}

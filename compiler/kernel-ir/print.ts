/** A readable printer for kernel IR (`attnc explain --target … --dump-after …`). */
import type { Access, Kernel, Program, SExpr, Stmt, TileRef } from './types.ts';

const OPS: Record<string, string> = {
  add: '+',
  sub: '-',
  mul: '*',
  div: '/',
  idiv: '//',
  mod: '%',
  lt: '<',
  le: '<=',
  gt: '>',
  ge: '>=',
  eq: '==',
  ne: '!=',
  and: '&&',
  or: '||',
};

export function printSExpr(e: SExpr): string {
  switch (e.k) {
    case 'const':
      return e.t === 'b' ? (e.v ? 'true' : 'false') : e.t === 'i' ? String(e.v) : Number.isInteger(e.v) ? `${e.v}.0` : String(Number(e.v.toPrecision(7)));
    case 'var':
      return e.name;
    case 'wg':
      return `wg.${'xyz'[e.axis]}`;
    case 'un':
      return e.fn === 'neg' ? `-(${printSExpr(e.a)})` : e.fn === 'not' ? `!(${printSExpr(e.a)})` : `${e.fn}(${printSExpr(e.a)})`;
    case 'bin': {
      const o = OPS[e.fn];
      return o ? `(${printSExpr(e.a)} ${o} ${printSExpr(e.b)})` : `${e.fn}(${printSExpr(e.a)}, ${printSExpr(e.b)})`;
    }
    case 'sel':
      return `(${printSExpr(e.c)} ? ${printSExpr(e.a)} : ${printSExpr(e.b)})`;
    case 'ld':
      return `${e.buf}[${printSExpr(e.idx)}]`;
    case 'tile':
      return `${e.tile}[${printSExpr(e.r)}, ${printSExpr(e.c)}]`;
    case 'fold':
      return `${e.fn}_{${e.v}=${printSExpr(e.from)}..${printSExpr(e.to)}}(${printSExpr(e.body)})`;
  }
}

function ref(t: TileRef): string {
  return t.r0 ? `${t.tile}[${printSExpr(t.r0)} ..+${t.rows}]` : t.tile;
}

function access(a: Access): string {
  return `${a.buf}[${printSExpr(a.index)}] (r < ${printSExpr(a.rows)}, c < ${printSExpr(a.cols)})`;
}

export function printStmts(body: Stmt[], indent = '  '): string[] {
  const out: string[] = [];
  for (const s of body) {
    switch (s.op) {
      case 'let':
        out.push(`${indent}let ${s.name} = ${printSExpr(s.value)}`);
        break;
      case 'for':
        out.push(`${indent}for ${s.v} in ${printSExpr(s.from)} ..< ${printSExpr(s.to)} step ${printSExpr(s.step)}${s.note ? `   # ${s.note}` : ''}`);
        out.push(...printStmts(s.body, indent + '  '));
        break;
      case 'if':
        out.push(`${indent}if ${printSExpr(s.cond)}`);
        out.push(...printStmts(s.then, indent + '  '));
        if (s.else.length) {
          out.push(`${indent}else`);
          out.push(...printStmts(s.else, indent + '  '));
        }
        break;
      case 'store':
        out.push(`${indent}store ${printSExpr(s.value)} → ${access(s.dst)}`);
        break;
      case 'map':
        out.push(`${indent}${ref(s.dst)}[r, c] = ${printSExpr(s.expr)}${s.guard ? `   (r < ${printSExpr(s.guard.rows)}, c < ${printSExpr(s.guard.cols)}; else ${s.guard.fill})` : ''}`);
        break;
      case 'matmul': {
        const a = s.transA ? `${ref(s.a)}ᵀ` : ref(s.a);
        const b = s.transB ? `${ref(s.b)}ᵀ` : ref(s.b);
        const op = s.acc === 'set' ? '=' : s.acc === 'add' ? '+=' : '-=';
        const product = `${a} @ ${b}${s.mask ? `   (${s.mask}-triangular)` : ''}`;
        if (s.scale) out.push(`${indent}${ref(s.dst)} = ${ref(s.dst)} * ${printSExpr(s.scale)} ${op[0]} ${product}`);
        else out.push(`${indent}${ref(s.dst)} ${op} ${product}`);
        break;
      }
      case 'reduce':
        out.push(`${indent}${s.dst} = ${s.fn} of ${s.src} along ${s.axis === 'cols' ? 'each row' : 'each column'}`);
        break;
      case 'cumsum':
        out.push(`${indent}${s.dst} = cumsum of ${s.src} down the rows`);
        break;
      case 'trisolve':
        out.push(`${indent}${s.b} = (I ${s.sign > 0 ? '+' : '−'} strictly-lower(${s.a}))⁻¹ ${s.b}`);
        break;
      case 'barrier':
        out.push(`${indent}barrier`);
        break;
      case 'note':
        out.push(`${indent}# ${s.text}`);
        break;
    }
  }
  return out;
}

export function printKernel(k: Kernel): string {
  const L = [`kernel ${k.name}  grid (${k.grid.map(printSExpr).join(', ')}) × ${k.threads} threads${k.tensorCores ? `, ${k.tensorCores} tensor cores` : ''}`, `  # ${k.doc}`];
  for (const b of k.buffers) L.push(`  buffer ${b.name}: ${b.dtype}[${printSExpr(b.elems)}] ${b.access} (${b.role})${b.packedInto ? ` packed into ${b.packedInto.buffer} at ${printSExpr(b.packedInto.offset)}` : ''}`);
  for (const t of k.tiles) L.push(`  ${t.space} ${t.name}[${t.rows}, ${t.cols}]`);
  L.push(...printStmts(k.body));
  return L.join('\n');
}

export function printProgram(p: Program): string {
  const L = [`program ${p.spec} on ${p.target}: ${p.form} form, ${p.kernels.length} kernel${p.kernels.length === 1 ? '' : 's'}`];
  for (const n of p.notes) L.push(`  note: ${n}`);
  L.push(`  params: ${p.params.map((x) => `${x.name}: ${x.type}`).join(', ')}`);
  for (const k of p.kernels) L.push('', printKernel(k));
  return L.join('\n');
}

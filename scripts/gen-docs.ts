/**
 * Regenerates the generated parts of the language reference and the grammar page:
 *
 *   - docs/language.md: the text between `<!-- BEGIN name -->` and `<!-- END name -->` for
 *     `keywords`, `builtins`, `index-vars` and `diagnostics`, from the lexer's keyword list,
 *     BUILTINS / INDEX_VARS / CONSTANTS (compiler/check/builtins.ts) and the diagnostics
 *     catalogue (compiler/diagnostics/catalogue.ts). Everything outside the markers is hand-written.
 *   - docs/grammar.html: railroad diagrams of the grammar (chevrotain's createSyntaxDiagramsCode),
 *     with the diagram scripts and css copied from node_modules/chevrotain/diagrams/ to
 *     docs/diagrams/, so the page works offline (no CDN links).
 *
 * Then it checks the documentation: every ```attn block in docs/language.md must parse and check
 * without errors, be in the formatter's canonical layout and, when it is named like a
 * standard-library spec, be that spec word for word; grammar.html must load nothing from the
 * network and must render (the diagram builder is run in a sandbox on the grammar).
 *
 *   node --import tsx scripts/gen-docs.ts           regenerate, then check   (npm run docs)
 *   node --import tsx scripts/gen-docs.ts --check   check only: exit 1 if a generated part is stale
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { createSyntaxDiagramsCode } from 'chevrotain';
import { BUILTINS, CONSTANTS, INDEX_VARS, type BuiltinCategory } from '../compiler/check/builtins.ts';
import { messages, type MessageDef } from '../compiler/diagnostics/catalogue.ts';
import { parseAndCheck } from '../compiler/frontend.ts';
import { format } from '../compiler/api.ts';
import { KEYWORD_WORDS } from '../dsl/lexer.ts';
import { parserInstance } from '../dsl/parser.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = join(REPO, 'docs');
const LANGUAGE_MD = join(DOCS, 'language.md');
const GRAMMAR_HTML = join(DOCS, 'grammar.html');
const DIAGRAMS_SRC = join(REPO, 'node_modules', 'chevrotain', 'diagrams');
const DIAGRAMS_DST = join(DOCS, 'diagrams');
/** The files of chevrotain's diagrams folder that the generated page loads. */
const DIAGRAM_FILES = ['vendor/railroad-diagrams.js', 'src/diagrams_builder.js', 'src/diagrams_behavior.js', 'src/main.js', 'diagrams.css'];

const checkOnly = process.argv.includes('--check');
const problems: string[] = [];

// ── Markdown helpers ─────────────────────────────────────────────────────────

/** Escape text for a Markdown table cell (pipes would end the cell). */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(head: string[], rows: string[][]): string {
  const line = (cols: string[]) => `| ${cols.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

// ── generated sections ───────────────────────────────────────────────────────

function keywordsSection(): string {
  return `${KEYWORD_WORDS.map((w) => `\`${w}\``).join(' ')}`;
}

const CATEGORY_TITLES: Record<BuiltinCategory, string> = {
  elementwise: 'Elementwise functions (applied to every element; the shape is kept, two operands broadcast)',
  reduction: 'Reductions (a vector to a scalar)',
  vector: 'Vector maps (a vector to a vector of the same length; the reduction is inside)',
  structure: 'Structure (products, reshapes and feature-map helpers; the shape changes)',
  head: 'Per-head helpers',
  mask: 'Mask built-ins (only in `mask`; each is a predicate over the query position i and key position j)',
};

/** Numbers as a spec would write them: 1e-6 rather than 0.000001. */
function numberText(v: number): string {
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v);
}

function builtinsSection(): string {
  const out: string[] = [];
  const order: BuiltinCategory[] = ['elementwise', 'reduction', 'vector', 'structure', 'head', 'mask'];
  const seen = new Set(BUILTINS.map((b) => b.category));
  for (const c of seen) if (!order.includes(c)) throw new Error(`gen-docs: no title for built-in category '${c}'`);
  for (const cat of order) {
    const bs = BUILTINS.filter((b) => b.category === cat);
    if (!bs.length) continue;
    out.push(`**${CATEGORY_TITLES[cat]}**`, '');
    out.push(
      table(
        ['Built-in', 'Meaning', 'Arguments'],
        bs.map((b) => {
          const [lo, hi] = b.arity;
          let args = lo === hi ? `${lo} positional` : `${lo}–${hi} positional`;
          if (b.named) args += `; named: ${Object.entries(b.named).map(([k, v]) => `\`${k}\` (default ${numberText(v)})`).join(', ')}`;
          if (cat === 'mask' && hi === 0) args = 'none (write the bare name)';
          return [`\`${cell(b.signature)}\``, cell(b.doc), args];
        }),
      ),
      '',
    );
  }
  const consts = Object.entries(CONSTANTS).map(([k, v]) => `\`${k}\` = ${Number(v.toPrecision(10))}…`);
  out.push(`**Constants:** ${consts.join(', ')}`);
  return out.join('\n');
}

/** Where each index variable may be written (the checker's TOKEN_VARS / PAIR_VARS and mask arguments). */
const INDEX_WHERE: Record<keyof typeof INDEX_VARS, string> = {
  i: '`score`, `mask`',
  j: '`score`, `mask`',
  t: '`let`, `feature`, `gate`, rule arguments, `update` equations, `output`, `epilogue` (not in `score`/`mask`)',
  h: 'everywhere (and `p[h]` indexes a per-head parameter)',
  T: 'everywhere, including mask-built-in arguments such as `window(T / 4)`',
  H: 'everywhere (and as the leading dimension `[H, …]` of a parameter shape)',
};

function indexVarsSection(): string {
  const rows = Object.entries(INDEX_VARS).map(([v, doc]) => {
    const where = INDEX_WHERE[v as keyof typeof INDEX_VARS];
    if (!where) throw new Error(`gen-docs: say where the index variable '${v}' is allowed (INDEX_WHERE)`);
    return [`\`${v}\``, cell(doc), where];
  });
  return table(['Variable', 'Meaning', 'Allowed in'], rows);
}

/** Which part of attnc emits each diagnostic today, found by scanning the sources for its id. */
function emitters(): Map<string, Set<string>> {
  const ids = new Set(Object.keys(messages));
  const found = new Map<string, Set<string>>();
  const area = (rel: string): string => {
    if (rel.startsWith('dsl/json')) return 'JSON form';
    if (rel.startsWith('dsl/')) return 'parser';
    if (rel.startsWith('compiler/check/')) return 'checker';
    if (rel.startsWith('bin/')) return 'command line';
    if (rel.startsWith('compiler/ir/')) return 'lowering';
    if (rel.startsWith('compiler/interp/')) return 'reference interpreter';
    if (rel.startsWith('backends/')) return 'backends';
    return rel.split('/').slice(0, 2).join('/');
  };
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        const rel = relative(REPO, p).split('\\').join('/');
        if (rel === 'compiler/diagnostics/catalogue.ts') continue;
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(/['"]([A-Z][A-Za-z0-9]+)['"]/g)) {
          if (!ids.has(m[1]!)) continue;
          const s = found.get(m[1]!) ?? new Set<string>();
          s.add(area(rel));
          found.set(m[1]!, s);
        }
      }
    }
  };
  for (const d of ['dsl', 'compiler', 'backends', 'bin']) walk(join(REPO, d));
  return found;
}

const RANGES: [string, string][] = [
  ['1', 'ATTN1xxx — syntax'],
  ['2', 'ATTN2xxx — names, types, shapes and spec rules (the checker)'],
  ['3', 'ATTN3xxx — lowering to the attention IR'],
  ['4', 'ATTN4xxx — kernel planning for a target'],
  ['5', 'ATTN5xxx — run-time inputs'],
  ['6', 'ATTN6xxx — command line and files'],
];

function diagnosticsSection(): string {
  const by = emitters();
  const all = Object.entries(messages as Record<string, MessageDef>);
  const codes = new Set<string>();
  for (const [, m] of all) {
    if (codes.has(m.code)) throw new Error(`gen-docs: diagnostic code ${m.code} is used twice`);
    codes.add(m.code);
  }
  const out: string[] = [];
  for (const [digit, title] of RANGES) {
    const rows = all
      .filter(([, m]) => m.code.startsWith(`ATTN${digit}`))
      .sort((a, b) => a[1].code.localeCompare(b[1].code))
      .map(([id, m]) => {
        const who = by.get(id);
        return [`\`${m.code}\``, m.severity, `\`${id}\``, cell(m.message), m.hint ? cell(m.hint) : '', who ? [...who].sort().join(', ') : '*not yet emitted*'];
      });
    if (!rows.length) continue;
    out.push(`**${title}**`, '', table(['Code', 'Severity', 'Name', 'Message', 'Default hint', 'Emitted by'], rows), '');
  }
  const unknown = all.filter(([, m]) => !RANGES.some(([d]) => m.code.startsWith(`ATTN${d}`)));
  if (unknown.length) throw new Error(`gen-docs: codes outside the known ranges: ${unknown.map(([, m]) => m.code).join(', ')}`);
  return out.join('\n').trimEnd();
}

const SECTIONS: Record<string, () => string> = {
  keywords: keywordsSection,
  builtins: builtinsSection,
  'index-vars': indexVarsSection,
  diagnostics: diagnosticsSection,
};

/** Replace the text between each pair of markers; every section must have exactly one pair. */
function regenerate(md: string): string {
  let out = md;
  for (const [name, gen] of Object.entries(SECTIONS)) {
    const begin = `<!-- BEGIN ${name} -->`;
    const end = `<!-- END ${name} -->`;
    const b = out.indexOf(begin);
    const e = out.indexOf(end);
    if (b < 0 || e < b || out.indexOf(begin, b + 1) >= 0) throw new Error(`gen-docs: docs/language.md needs one '${begin}' … '${end}' pair`);
    const body = `${begin}\n<!-- generated by scripts/gen-docs.ts (npm run docs); edit the sources, not this block -->\n\n${gen()}\n\n`;
    out = out.slice(0, b) + body + out.slice(e);
  }
  return out;
}

// ── grammar.html ─────────────────────────────────────────────────────────────

function grammarHtml(): string {
  const grammar = parserInstance().getSerializedGastProductions();
  let html = createSyntaxDiagramsCode(grammar, { resourceBase: './diagrams/', css: './diagrams/diagrams.css' });
  const put = (anchor: string, text: string, after = true) => {
    const at = html.indexOf(anchor);
    if (at < 0) throw new Error(`gen-docs: chevrotain's diagram page changed: '${anchor}' not found`);
    const pos = after ? at + anchor.length : at;
    html = html.slice(0, pos) + text + html.slice(pos);
  };
  const head = '\n<!-- This is a generated file -->\n<!DOCTYPE html>\n';
  if (!html.startsWith(head)) throw new Error("gen-docs: chevrotain's diagram page changed: unexpected start");
  html = `<!DOCTYPE html>\n<!-- Generated by scripts/gen-docs.ts (npm run docs) from dsl/parser.ts; do not edit. -->\n${html.slice(head.length)}`;
  put('<meta charset="utf-8">', '\n<title>attnc — grammar of the spec language</title>');
  put(
    '<div id="diagrams"',
    `<div style="max-width: 50em; margin: 1em auto; font-family: sans-serif">
<h1>The attnc spec language: grammar</h1>
<p>Railroad diagrams of the parser's rules (<code>dsl/parser.ts</code>), generated by
<code>npm run docs</code>. Hover a rule name to see where it is used; click a rule inside a diagram to
jump to its definition. The meaning of each item is in <a href="language.md">language.md</a>.
Tokens: <code>Identifier</code> is a name (letters, digits, <code>_</code>, Greek letters; not starting with
a digit), <code>NumberLit</code> a number such as <code>64</code>, <code>0.5</code> or <code>1e-6</code>.
Juxtaposition (the <code>powExpr</code> branch of <code>mulExpr</code>) applies only within one line.</p>
</div>
`,
    false,
  );
  return html;
}

/** Every script and stylesheet of the page must be a relative path that exists on disk. */
function checkGrammarPage(html: string): void {
  const refs = [...html.matchAll(/\b(?:src|href)\s*=\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  for (const r of refs) {
    if (/^(?:[a-z]+:)?\/\//i.test(r) && !r.startsWith('#')) problems.push(`grammar.html loads '${r}' from the network`);
    else if (!existsSync(join(DOCS, r))) problems.push(`grammar.html refers to '${r}', which is missing`);
  }
  if (/https?:\/\/[^'"\s]*\.(?:js|css)\b/.test(html)) problems.push('grammar.html names a script or stylesheet by URL');
  // Render the diagrams the way the page does, in a sandbox without a DOM (the builder only makes SVG text).
  const m = /window\.serializedGrammar = ([\s\S]*?);\n<\/script>/.exec(html);
  if (!m) {
    problems.push('grammar.html has no serialized grammar');
    return;
  }
  const ctx = vm.createContext({ window: {} });
  for (const f of ['vendor/railroad-diagrams.js', 'src/diagrams_builder.js']) vm.runInContext(readFileSync(join(DIAGRAMS_DST, f), 'utf8'), ctx, { filename: f });
  const svg = vm.runInContext(`diagrams_builder.buildSyntaxDiagramsText(${m[1]})`, ctx) as string;
  const rules = parserInstance().getSerializedGastProductions().length;
  const drawn = (svg.match(/<svg /g) ?? []).length;
  if (drawn !== rules) problems.push(`grammar.html draws ${drawn} diagrams for ${rules} rules`);
}

// ── examples in language.md ──────────────────────────────────────────────────

/** Every ```attn block must check without errors and be formatted canonically. */
function checkExamples(md: string): number {
  const re = /^```attn\n([\s\S]*?)^```$/gm;
  let n = 0;
  for (const m of md.matchAll(re)) {
    n++;
    const line = md.slice(0, m.index).split('\n').length + 1;
    const text = m[1]!;
    const where = `docs/language.md:${line}`;
    const r = parseAndCheck(text, where);
    for (const d of r.diagnostics) if (d.severity === 'error') problems.push(`${where}: example has ${d.code}: ${d.message}`);
    const f = format(text, where);
    if (f.text !== undefined && f.text !== text) problems.push(`${where}: example is not in canonical layout (attnc fmt would change it)`);
    // An example named like a standard-library spec must be that spec, word for word.
    const names = r.ast?.specs.map((s) => s.name.name) ?? [];
    const lib = names.length === 1 ? join(REPO, 'stdlib', `${names[0]}.attn`) : undefined;
    if (lib && existsSync(lib) && readFileSync(lib, 'utf8') !== text) problems.push(`${where}: example '${names[0]}' differs from stdlib/${names[0]}.attn`);
  }
  if (n === 0) problems.push('docs/language.md has no ```attn examples');
  return n;
}

/** Every in-page link (#anchor) must name a heading, by GitHub's slug rules. */
function checkAnchors(md: string): void {
  const text = md.replace(/^```[\s\S]*?^```$/gm, '');
  const slugs = new Set(
    [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    ),
  );
  for (const m of text.matchAll(/\]\(#([^)]+)\)/g)) if (!slugs.has(m[1]!)) problems.push(`docs/language.md links to #${m[1]}, which is no heading`);
}

// ── main ─────────────────────────────────────────────────────────────────────

function writeIfChanged(path: string, text: string | Buffer): void {
  const old = existsSync(path) ? readFileSync(path) : undefined;
  const next = typeof text === 'string' ? Buffer.from(text) : text;
  if (old && old.equals(next)) return;
  if (checkOnly) {
    problems.push(`${relative(REPO, path)} is out of date: run npm run docs`);
    return;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, next);
  console.log(`wrote ${relative(REPO, path)}`);
}

const md = readFileSync(LANGUAGE_MD, 'utf8');
const nextMd = regenerate(md);
writeIfChanged(LANGUAGE_MD, nextMd);
for (const f of DIAGRAM_FILES) {
  const src = join(DIAGRAMS_SRC, f);
  if (!existsSync(src)) throw new Error(`gen-docs: ${src} is missing (run npm ci)`);
  writeIfChanged(join(DIAGRAMS_DST, f), readFileSync(src));
}
writeIfChanged(
  join(DIAGRAMS_DST, 'README.md'),
  `# Railroad-diagram scripts for ../grammar.html

Copied unchanged by \`scripts/gen-docs.ts\` (\`npm run docs\`) from \`node_modules/chevrotain/diagrams/\`
so that the grammar page works offline. \`src/\` and \`diagrams.css\` are part of chevrotain
(Apache-2.0, see LICENSE-chevrotain.txt); \`vendor/railroad-diagrams.js\` is Tab Atkins Jr.'s
railroad-diagrams (CC0, see its header). Do not edit: regenerate instead.
`,
);
writeIfChanged(join(DIAGRAMS_DST, 'LICENSE-chevrotain.txt'), readFileSync(join(REPO, 'node_modules', 'chevrotain', 'LICENSE.txt')));
const html = grammarHtml();
writeIfChanged(GRAMMAR_HTML, html);
checkGrammarPage(html);
const examples = checkExamples(nextMd);
checkAnchors(nextMd);

if (problems.length) {
  for (const p of problems) console.error(`gen-docs: ${p}`);
  process.exit(1);
}
console.log(`docs ok: ${Object.keys(SECTIONS).length} generated sections, ${examples} examples checked, grammar.html offline`);

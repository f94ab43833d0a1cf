/**
 * The command line, run in-process through bin/attnc.ts `main(argv)` with stdout and stderr
 * captured: exit codes (0 ok, 1 diagnostics, 2 usage), diagnostics as text and JSON, `fmt`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../bin/attnc.ts';
import { VERSION } from '../../compiler/version.ts';
import { REPO } from '../helpers/baseline.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `attnc ARGV…` in this process; output is captured and the streams restored afterwards. */
async function attnc(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const text = (chunk: unknown) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
  const realOut = process.stdout.write;
  const realErr = process.stderr.write;
  const savedExitCode = process.exitCode;
  process.exitCode = undefined;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    out.push(text(chunk));
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    err.push(text(chunk));
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(argv);
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    process.exitCode = savedExitCode;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const tmp = mkdtempSync(join(tmpdir(), 'attnc-cli-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
/** A fresh temporary file with this content. */
function tmpFile(content: string, ext = '.attn'): string {
  const p = join(tmp, `f${++n}${ext}`);
  writeFileSync(p, content);
  return p;
}

const STDLIB = join(REPO, 'stdlib');
const GOOD = 'attention ok {\n  dims      K = 4, V = 4\n  input     q: [K], k: [K], v: [V]\n  update    additive\n}\n';
const BAD = 'attention bad {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  gate -softplus(alpha)\n  update additive\n}\n';

// ── check ────────────────────────────────────────────────────────────────────

test('check stdlib: exit 0 and a summary of every file', async () => {
  const r = await attnc('check', STDLIB);
  assert.is(r.code, 0, r.stderr);
  const count = stdlibFiles().length;
  assert.match(r.stderr, `checked ${count} files (${count} specs): 0 errors, 0 warnings`);
  assert.not.match(r.stderr, 'error[');
  assert.is(r.stdout, '');
});

test('check a bad file: exit 1, the diagnostic with file:line:col, a code frame and the summary', async () => {
  const f = tmpFile(BAD);
  const r = await attnc('check', f);
  assert.is(r.code, 1);
  assert.match(r.stderr, `${f}:4:18: error[ATTN2001]: unknown name 'alpha'`);
  assert.match(r.stderr, '4 |   gate -softplus(alpha)\n  |                  ^^^^^');
  assert.match(r.stderr, 'checked 1 file (0 specs): 1 error, 0 warnings');
  assert.not.match(r.stderr, /\x1b\[/, 'no colour when not on a terminal');
});

test('check lowers clean specs: lowering diagnostics (a decay above 1, a general-linear update) are reported', async () => {
  const grow = tmpFile('attention grow {\n  dims   K = 4, V = 4\n  input  q: [K], k: [K], v: [V]\n  state  S: [K, V]\n  update S = 2 * S + k ⊗ v\n  output o = Sᵀ @ q\n}\n');
  const r = await attnc('check', grow);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, `${grow}:5:14: error[ATTN3010]`);
  assert.match(r.stderr, 'checked 1 file (1 spec): 1 error, 0 warnings');
  const json = await attnc('check', grow, '--json');
  assert.is(json.code, 1);
  const out = JSON.parse(json.stdout) as { ok: boolean; files: { ok: boolean; diagnostics: { code: string }[] }[] };
  assert.is(out.ok, false);
  assert.equal(out.files[0]!.diagnostics.map((d) => d.code), ['ATTN3010']);
  const mix = tmpFile('attention mix {\n  dims   K = 4, V = 4\n  input  q: [K], k: [K], v: [V]\n  param  W: [K, K]\n  state  S: [K, V]\n  update S = W @ S + k ⊗ v\n  output o = Sᵀ @ q\n}\n');
  const w = await attnc('check', mix);
  assert.is(w.code, 0, w.stderr);
  assert.match(w.stderr, 'warning[ATTN3002]');
});

test('check: warnings alone exit 0', async () => {
  const f = tmpFile(GOOD.replace('v: [V]', 'v: [V], x: scalar'));
  const r = await attnc('check', f);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, "warning[ATTN2040]: input 'x' is never used");
  assert.match(r.stderr, '0 errors, 1 warning');
});

test('check --json: parseable JSON with codes and 1-based lines and columns', async () => {
  const f = tmpFile(BAD);
  const r = await attnc('check', '--json', f);
  assert.is(r.code, 1);
  const j = JSON.parse(r.stdout) as {
    ok: boolean;
    files: { file: string; ok: boolean; specs: unknown[]; diagnostics: { code: string; severity: string; message: string; file: string; start: { line: number; column: number; offset: number }; end: { line: number; column: number; offset: number } }[] }[];
    diagnostics: unknown[];
  };
  assert.is(j.ok, false);
  assert.is(j.files.length, 1);
  assert.is(j.files[0]!.file, f);
  assert.is(j.files[0]!.ok, false);
  const d = j.files[0]!.diagnostics[0]!;
  assert.is(d.code, 'ATTN2001');
  assert.is(d.severity, 'error');
  assert.is(d.message, "unknown name 'alpha'");
  assert.is(d.file, f);
  // `alpha` is on line 4 (1-based), from column 18 to 23 (1-based, end exclusive).
  assert.equal(d.start, { line: 4, column: 18, offset: BAD.indexOf('alpha') });
  assert.equal(d.end, { line: 4, column: 23, offset: BAD.indexOf('alpha') + 5 });
  assert.equal(j.diagnostics, []);
  assert.is(r.stderr, '', 'JSON mode prints nothing else');
});

test('check --json on the stdlib: ok, every spec with its family', async () => {
  const r = await attnc('check', STDLIB, '--json');
  assert.is(r.code, 0);
  const j = JSON.parse(r.stdout) as { ok: boolean; files: { specs: { name: string; family: string }[]; diagnostics: unknown[] }[] };
  assert.ok(j.ok);
  const specs = j.files.flatMap((f) => f.specs);
  assert.is(specs.length, stdlibFiles().length);
  assert.equal(specs.find((s) => s.name === 'softmax'), { name: 'softmax', family: 'softmax' });
  assert.equal(specs.find((s) => s.name === 'gla'), { name: 'gla', family: 'recurrent' });
  assert.ok(j.files.every((f) => f.diagnostics.length === 0));
});

test('check a missing file: ATTN6001, exit 1 (text and JSON)', async () => {
  const missing = join(tmp, 'does-not-exist.attn');
  const r = await attnc('check', missing);
  assert.is(r.code, 1);
  assert.match(r.stderr, `error[ATTN6001]: cannot read '${missing}': ENOENT`);
  const rj = await attnc('check', '--json', missing);
  assert.is(rj.code, 1);
  const j = JSON.parse(rj.stdout) as { ok: boolean; diagnostics: { code: string }[] };
  assert.is(j.ok, false);
  assert.equal(
    j.diagnostics.map((d) => d.code),
    ['ATTN6001'],
  );
});

test('check a JSON spec file, and a broken one', async () => {
  const good = tmpFile(JSON.stringify({ attention: 'j', dims: { K: 4, V: 4 }, inputs: { q: '[K]', k: '[K]', v: '[V]' }, update: 'additive' }), '.attn.json');
  const r = await attnc('check', good);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'checked 1 file (1 spec)');
  const bad = tmpFile('{"attention": ', '.attn.json');
  const rb = await attnc('check', bad);
  assert.is(rb.code, 1);
  assert.match(rb.stderr, `${bad}:1:1: error[ATTN6002]: invalid JSON`);
});

test('check --dims overrides dims; unknown names are diagnostics, malformed lists usage errors', async () => {
  const gla = join(STDLIB, 'gla.attn');
  assert.is((await attnc('check', gla, '--dims', 'K=16,V=16')).code, 0);
  const unknown = await attnc('check', gla, '--dims', 'Q=16');
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, "error[ATTN2007]: unknown dimension 'Q'");
  const malformed = await attnc('check', gla, '--dims', 'K=sixteen');
  assert.is(malformed.code, 2);
  assert.match(malformed.stderr, '--dims expects NAME=INTEGER pairs');
});

// ── usage ────────────────────────────────────────────────────────────────────

test('no arguments: the help, as a usage error (exit 2)', async () => {
  const r = await attnc();
  assert.is(r.code, 2);
  assert.match(r.stderr, 'Usage: attnc');
});

test('usage errors exit 2: unknown option, unknown command, missing files', async () => {
  for (const argv of [['--bogus'], ['check', '--bogus', STDLIB], ['frobnicate'], ['check'], ['fmt']]) {
    const r = await attnc(...argv);
    assert.is(r.code, 2, argv.join(' '));
    assert.match(r.stderr, /^error: /, argv.join(' '));
    assert.match(r.stderr, '(run with --help for usage)');
  }
});

test('--version prints the version and exits 0', async () => {
  for (const flag of ['--version', '-V']) {
    const r = await attnc(flag);
    assert.is(r.code, 0);
    assert.is(r.stdout.trim(), VERSION);
  }
});

test('--help mentions the commands and exits 0; command help shows examples', async () => {
  const r = await attnc('--help');
  assert.is(r.code, 0);
  assert.match(r.stdout, 'Usage: attnc [options] [command]');
  for (const c of ['check', 'fmt']) assert.match(r.stdout, new RegExp(`^\\s+${c} \\[options\\]`, 'm'));
  const rc = await attnc('check', '--help');
  assert.is(rc.code, 0);
  assert.match(rc.stdout, '--json');
  assert.match(rc.stdout, 'attnc check stdlib/');
  assert.is((await attnc('help', 'fmt')).code, 0);
});

// ── fmt ──────────────────────────────────────────────────────────────────────

test('fmt --check: exit 0 on a formatted file, 1 with ATTN6004 on an unformatted one, files untouched', async () => {
  const formatted = tmpFile(GOOD);
  const ok = await attnc('fmt', '--check', formatted);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, '0 of 1 file(s) need formatting');

  const messy = 'attention ok{dims K=4,V=4\ninput q:[K],k:[K],v:[V]\n   update additive}';
  const unformatted = tmpFile(messy);
  const r = await attnc('fmt', '--check', unformatted);
  assert.is(r.code, 1);
  assert.match(r.stderr, `error[ATTN6004]: '${unformatted}' is not formatted`);
  assert.match(r.stderr, `hint: run \`attnc fmt ${unformatted}\``);
  assert.match(r.stderr, '1 of 1 file(s) need formatting');
  assert.is(readFileSync(unformatted, 'utf8'), messy, '--check never writes');
});

test('fmt rewrites a file in canonical layout, then fmt --check passes', async () => {
  const f = tmpFile('# keep me\nattention ok{dims K=4,V=4 # dims\ninput q:[K],k:[K],v:[V]\n\n\n   update additive}');
  const r = await attnc('fmt', f);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'formatted 1 of 1 file(s)');
  assert.fixture(readFileSync(f, 'utf8'), '# keep me\nattention ok {\n  dims      K = 4, V = 4  # dims\n  input     q: [K], k: [K], v: [V]\n\n  update    additive\n}\n');
  assert.is((await attnc('fmt', '--check', f)).code, 0);
  const again = await attnc('fmt', f);
  assert.match(again.stderr, 'formatted 0 of 1 file(s)');
});

test('fmt --stdout prints the formatted text and leaves the file; syntax errors exit 1', async () => {
  const messy = 'attention ok{dims K=4,V=4\ninput q:[K],k:[K],v:[V]\nupdate additive}';
  const f = tmpFile(messy);
  const r = await attnc('fmt', '--stdout', f);
  assert.is(r.code, 0);
  assert.is(r.stdout, GOOD);
  assert.is(readFileSync(f, 'utf8'), messy);
  const broken = tmpFile('attention x {\n  gate (\n}\n');
  const rb = await attnc('fmt', broken);
  assert.is(rb.code, 1);
  assert.match(rb.stderr, /error\[ATTN1\d{3}\]/);
  assert.is(readFileSync(broken, 'utf8'), 'attention x {\n  gate (\n}\n', 'a file that does not parse is left alone');
});

test('fmt --check on the stdlib directory: every file is formatted', async () => {
  const r = await attnc('fmt', '--check', STDLIB);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, `0 of ${stdlibFiles().length} file(s) need formatting`);
});

test('fmt --json reports what changed', async () => {
  const f = tmpFile('attention ok{dims K=4,V=4\ninput q:[K],k:[K],v:[V]\nupdate additive}');
  const r = await attnc('fmt', '--check', '--json', f);
  assert.is(r.code, 1);
  const j = JSON.parse(r.stdout) as { ok: boolean; changed: string[]; diagnostics: { code: string }[] };
  assert.equal(j.changed, [f]);
  assert.equal(
    j.diagnostics.map((d) => d.code),
    ['ATTN6004'],
  );
});

test('the captured streams are restored after each run', async () => {
  const before = process.stdout.write;
  await attnc('--version');
  assert.is(process.stdout.write, before);
});

test.run();

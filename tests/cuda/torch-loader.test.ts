/**
 * The generated PyTorch loaders (NAME_torch.py) run — on a stand-in torch
 * (tests/helpers/fake-torch), since CI has neither a GPU nor PyTorch — and their plan cache holds:
 * a call like an earlier one skips the checks and passes its own tensors, calls that need copies
 * or carry cu_seqlens are checked every time, another dtype or shape is checked again
 * (tests/helpers/fake-torch/loader_cases.py). bench/gpu/check.py runs the loaders on a GPU, each
 * case twice (the second through the cached plan).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileCuda } from '../../backends/cuda/index.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

const CASES = join(import.meta.dirname, '..', 'helpers', 'fake-torch', 'loader_cases.py');

test('every stdlib loader, chunk and decode forms: the plan cache skips checks only for calls like a checked one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attnc-loader-'));
  try {
    let n = 0;
    for (const f of stdlibFiles()) {
      const ir = lowerSource(f.text, f.path).irs[0]!;
      for (const form of ir.update ? [undefined, 'recurrent' as const] : [undefined]) {
        const r = compileCuda(ir, { profile: 'cuda-sm90', dtype: 'bf16', ...(form ? { form } : {}) });
        const loader = r.files.find((x) => x.path.endsWith('_torch.py'));
        assert.ok(loader, `${f.name}${form ? ` (${form})` : ''}: a loader`);
        const path = join(dir, `${f.name}_${form ?? 'default'}_torch.py`);
        writeFileSync(path, loader!.contents);
        let out: string;
        try {
          out = execFileSync('python3', [CASES, path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (e) {
          const x = e as { stderr?: string; stdout?: string };
          throw new Error(`${f.name}${form ? ` (${form})` : ''}: ${x.stderr || x.stdout || String(e)}`);
        }
        assert.match(out, /^ok: [5-7] cases/, `${f.name}: ${out}`);
        n++;
      }
    }
    assert.ok(n >= 30, `loaders run: ${n}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

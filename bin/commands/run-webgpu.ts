/** `attnc run --backend webgpu`: filled in by the WGSL backend. */
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import type { RunInputs } from '../../compiler/interp/inputs.ts';
import { EXIT } from '../output.ts';

export async function runWebGpuCommand(ir: AttentionIR, _run: RunInputs, _opts: object): Promise<number> {
  process.stderr.write(`attnc: the webgpu backend cannot run '${ir.name}' yet (use --backend reference)\n`);
  return EXIT.usage;
}

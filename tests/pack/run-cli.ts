/** Run `attnc ARGV…` in this process (bin/attnc.ts `main`) with stdout and stderr captured. */
import { main } from '../../bin/attnc.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function attnc(...argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const text = (chunk: unknown) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
  const capture = (sink: string[]) =>
    ((chunk: unknown, ...rest: unknown[]) => {
      sink.push(text(chunk));
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  const realOut = process.stdout.write;
  const realErr = process.stderr.write;
  const savedExitCode = process.exitCode;
  process.exitCode = undefined;
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
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

/** File handling for the CLI: expand directories, read specs (.attn or .json), report problems as diagnostics. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { diag, type Diagnostic } from '../compiler/diagnostics/diagnostic.ts';

export const SPEC_EXTENSIONS = ['.attn', '.attn.json'];

export function isSpecFile(path: string): boolean {
  return SPEC_EXTENSIONS.some((e) => path.endsWith(e));
}

/** Expand directories (recursively) into spec files, sorted; files are kept as given. */
export function expandPaths(paths: string[]): { files: string[]; diagnostics: Diagnostic[] } {
  const files: string[] = [];
  const diagnostics: Diagnostic[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (isSpecFile(p)) files.push(p);
    }
  };
  for (const p of paths) {
    try {
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    } catch (e) {
      diagnostics.push(diag('FileNotFound', { start: 0, end: 0 }, [p, (e as NodeJS.ErrnoException).code ?? (e as Error).message]));
    }
  }
  return { files, diagnostics };
}

export function readText(path: string): { text?: string; diagnostic?: Diagnostic } {
  try {
    return { text: readFileSync(path, 'utf8') };
  } catch (e) {
    return { diagnostic: diag('FileNotFound', { start: 0, end: 0 }, [path, (e as NodeJS.ErrnoException).code ?? (e as Error).message]) };
  }
}

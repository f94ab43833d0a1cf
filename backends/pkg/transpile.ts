/**
 * TypeScript → JavaScript + declarations for generated modules, with the TypeScript compiler's
 * single-file transforms (`transpileModule`, `transpileDeclaration`): no program, no file system.
 * The generated bindings annotate every export, so isolated declaration emit is exact.
 *
 * `typescript` is loaded on first use (it is large, and only `attnc pack` needs it).
 */
import type * as TS from 'typescript';

export interface Transpiled {
  js: string;
  dts: string;
  /** TypeScript's messages (none for well-formed generated code). */
  errors: string[];
}

export type Transpiler = (source: string, fileName: string) => Promise<Transpiled>;

let loaded: Promise<typeof TS> | undefined;

/** Load the TypeScript compiler; a clear error when it is not installed. */
async function typescript(): Promise<typeof TS> {
  // A computed specifier keeps bundlers from inlining the compiler into the CLI bundle.
  const id = ['type', 'script'].join('');
  loaded ??= import(id).then(
    (m: { default?: typeof TS } & typeof TS) => m.default ?? m,
    () => {
      loaded = undefined;
      throw new Error("the 'typescript' package is needed to emit index.js and index.d.ts; install it next to attnc (npm install typescript)");
    },
  );
  return loaded;
}

export const transpileTs: Transpiler = async (source, fileName) => {
  const ts = await typescript();
  const compilerOptions: TS.CompilerOptions = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, declaration: true, removeComments: false };
  const js = ts.transpileModule(source, { compilerOptions, fileName, reportDiagnostics: true });
  const dts = ts.transpileDeclaration(source, { compilerOptions, fileName, reportDiagnostics: true });
  const errors = [...(js.diagnostics ?? []), ...(dts.diagnostics ?? [])].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  return { js: js.outputText, dts: dts.outputText, errors };
};

/** The `attnc` command line. Exit codes: 0 ok, 1 diagnostics, 2 usage. */
import { Command, CommanderError } from 'commander';
import { checkCommand } from './commands/check.ts';
import { fmtCommand } from './commands/fmt.ts';
import { explainCommand } from './commands/explain.ts';
import { runCommand } from './commands/run.ts';
import { compileCommand, type CompileCmdOptions } from './commands/compile.ts';
import { packCommand } from './commands/pack.ts';
import { benchCommand } from './commands/bench.ts';
import { expandPaths } from './io.ts';
import { collect, CUDA_PROFILES, DTYPES, FORMS, orList, PROFILE_HELP, TARGETS, TILES_HELP, WEBGPU_DTYPES, WEBGPU_PROFILES } from './options.ts';
import { PROFILE_NAMES } from '../compiler/targets/profiles.ts';
import { PASS_NAMES } from '../compiler/passes/pipeline.ts';
import { captureStdout, diagnosticsJson, EXIT, printDiagnostics, printJson, progress } from './output.ts';
import { VERSION } from '../compiler/version.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('attnc')
    .description('Compile declarative attention specs to WGSL and CUDA kernels, verified against a float64 reference interpreter.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('check')
    .description('parse and check specs, reporting every diagnostic')
    .argument('<files...>', 'spec files (.attn, .attn.json) or directories')
    .option('--dims <list>', 'override declared dims, e.g. K=16,V=16')
    .option('--json', 'print diagnostics as JSON')
    .addHelpText('after', '\nExamples:\n  attnc check stdlib/\n  attnc check my_gla.attn --json\n  attnc check stdlib/gla.attn --dims K=16,V=16')
    .action((files: string[], o) => {
      process.exitCode = checkCommand(files, o);
    });

  program
    .command('fmt')
    .description('format specs in canonical layout (comments kept)')
    .argument('<files...>', 'spec files or directories')
    .option('--check', 'only report files that are not formatted (exit 1 if any)')
    .option('--stdout', 'print the formatted text instead of rewriting files')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  attnc fmt stdlib/\n  attnc fmt --check stdlib/')
    .action((files: string[], o) => {
      process.exitCode = fmtCommand(files, o);
    });

  program
    .command('explain')
    .description('print the attention IR of a spec: family, feature maps, gate and update classes, read, normalizer, mask, forms')
    .argument('<file>', 'a spec file')
    .option('--spec <name>', 'the spec to explain when the file has several')
    .option('--dims <list>', 'override declared dims, e.g. K=16,V=16')
    .option('--target <profile>', `also plan kernels for a target profile (${PROFILE_NAMES.join(', ')})`)
    .option('--dump-after <pass>', `print the plan after a pass (${PASS_NAMES.join(', ')})`)
    .option('--form <form>', `kernel form for the plan: ${orList(FORMS)} (plans for webgpu-default without --target)`)
    .option('--dtype <type>', `storage type of inputs and outputs for the plan: ${orList(DTYPES)} (plans for webgpu-default without --target)`)
    .option('--chunk <n>', 'chunk size (state-recurrent) or query tile (softmax) for the plan')
    .option('--tiles <list>', `${TILES_HELP} (plans for webgpu-default without --target)`)
    .option('--json', 'print the IR summary as JSON')
    .addHelpText('after', '\nExamples:\n  attnc explain stdlib/gated_deltanet.attn\n  attnc explain stdlib/gated_deltanet.attn --target webgpu-default --dump-after tiling\n  attnc explain stdlib/gated_deltanet.attn --target cuda-sm90 --tiles BV=32,BK=64\n  attnc explain examples/gla_equation.attn --json')
    .action((file: string, o) => {
      process.exitCode = explainCommand(file, o);
    });

  program
    .command('compile')
    .description('compile a spec to WGSL kernels, TypeScript bindings and CUDA sources')
    .argument('<files...>', 'spec files or directories (a folder compiles every spec in it)')
    .option('--target <list>', `${TARGETS.join(', ')} (comma-separated)`, 'wgsl,ts')
    .option('--out <dir>', 'output folder (one subfolder per spec)', 'out')
    .option('--profile <names>', `${PROFILE_HELP}; a WebGPU profile needs the wgsl or ts target, a CUDA profile the cuda target`, collect)
    .option('--cuda-profile <name>', `an alias: the same as naming a CUDA profile (${CUDA_PROFILES.join(', ')}) in --profile`)
    .option('--dtype <type>', `storage type of inputs and outputs: ${orList(DTYPES)} (default f32 for WebGPU, bf16 for CUDA)`)
    .option('--chunk <n>', 'chunk size (state-recurrent) or query tile (softmax)')
    .option('--tiles <list>', `${TILES_HELP}; for every target`)
    .option('--form <form>', `${FORMS.join(', ')} (recurrent: the decode form)`)
    .option('--dims <list>', 'override declared dims, e.g. K=64,V=64')
    .option('--spec <name>', 'the spec to compile when the file has several')
    .option('--json', 'print the written files as JSON')
    .addHelpText('after', '\nExamples:\n  attnc compile stdlib/gated_deltanet.attn --target wgsl,ts --out out/\n  attnc compile stdlib/gla.attn --target cuda --profile cuda-sm80 --dtype bf16\n  attnc compile stdlib/gla.attn --target wgsl,ts,cuda --profile webgpu-default,cuda-sm80\n  attnc compile stdlib/gated_deltanet.attn --target cuda --chunk 32 --tiles BV=32   # a tile variant\n  attnc compile stdlib/ --out out/   # every spec in the folder, with a progress bar on a terminal')
    .action(async (files: string[], o: CompileCmdOptions) => {
      process.exitCode = await compileMany(files, o);
    });

  program
    .command('run')
    .description('run a spec on random or given inputs; print output statistics, time and (with --compare) the errors between forms')
    .argument('<file>', 'a spec file')
    .option('--backend <name>', 'reference (float64 interpreter) or webgpu', 'reference')
    .option('--form <form>', `${FORMS.join(', ')} (default: chunk where it exists)`)
    .option('--shape <list>', 'B=…,T=…,H=… for random inputs', 'B=2,T=128,H=4')
    .option('--heads <list>', 'heads of particular inputs (GQA/GVA), e.g. q=2,k=2')
    .option('--dims <list>', 'override declared dims, e.g. K=16,V=16')
    .option('--seed <n>', 'seed of the random inputs', '0')
    .option('--chunk <n>', 'chunk size of the chunk form')
    .option('--tiles <list>', `${TILES_HELP} (webgpu)`)
    .option('--inputs <file>', 'inputs from a .npz or .json file instead of random ones')
    .option('--cu-seqlens <list>', 'packed variable-length sequences, e.g. 0,40,128 (B = 1)')
    .option('--initial-state', 'start from a random initial state')
    .option('--compare', 'run every form and report the errors between them')
    .option('--check', 'compare the webgpu backend with the float64 reference')
    .option('--dtype <type>', `storage type of inputs and outputs on webgpu: ${orList(WEBGPU_DTYPES)}`, 'f32')
    .option('--profile <name>', `the WebGPU profile whose defaults the device limits refine (webgpu): ${WEBGPU_PROFILES.join(', ')}`, 'webgpu-large')
    .option('--spec <name>', 'the spec to run when the file has several')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  attnc run stdlib/gla.attn --dims K=16,V=16 --shape B=2,T=64,H=2 --compare\n  attnc run stdlib/softmax.attn --form parallel --json\n  attnc run stdlib/kda.attn --cu-seqlens 0,30,100 --initial-state --compare')
    .action(async (file: string, o) => {
      process.exitCode = await runCommand(file, o);
    });

  program
    .command('pack')
    .description('write a complete npm package for a spec: index.js + index.d.ts, WGSL, the WebGPU runtime, the manifest, CUDA sources (unless --no-cuda or the spec has no CUDA kernels), and a README')
    .argument('<file>', 'a spec file')
    .option('--out <dir>', 'the package folder (default: out/<package name>)')
    .option('--name <name>', 'package name (default: attnc-<spec>)')
    .option('--pkg-version <semver>', 'package version', '0.1.0')
    .option('--license <id>', 'SPDX license of the package', 'UNLICENSED')
    .option('--dims <list>', 'override declared dims, e.g. K=64,V=64')
    .option('--spec <name>', 'the spec to pack when the file has several')
    .option('--profile <names>', `${PROFILE_HELP}; the CUDA one is for the CUDA sources`, collect)
    .option('--dtype <type>', `storage type of the WebGPU kernels' inputs and outputs: ${orList(WEBGPU_DTYPES)} (CUDA sources: bf16)`)
    .option('--form <form>', `${FORMS.join(', ')} (recurrent: the decode form)`)
    .option('--chunk <n>', 'chunk size (state-recurrent) or query tile (softmax)')
    .option('--tiles <list>', `${TILES_HELP} (for the WebGPU kernels and the CUDA sources)`)
    .option('--cuda-profile <name>', `an alias: the same as naming a CUDA profile (${CUDA_PROFILES.join(', ')}) in --profile`)
    .option('--no-cuda', 'leave the CUDA sources out')
    .option('--json', 'print the package name, folder and files as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  attnc pack stdlib/gated_deltanet.attn --out pkg/gdn\n  attnc pack stdlib/gla.attn --dims K=64,V=64 --name @me/gla-kernels --pkg-version 1.0.0\n  npm pack pkg/gdn            # the tarball; npm install it anywhere',
    )
    .action(async (file: string, o) => {
      process.exitCode = await packCommand(file, o);
    });

  program
    .command('bench')
    .description("time a spec's WebGPU kernels on this machine's adapter: median ms/call and tokens/s of run() and of the kernels alone")
    .argument('<file>', 'a spec file')
    .option('--shape <list>', 'B=…,T=…,H=…', 'B=1,T=256,H=2')
    .option('--dims <list>', 'override declared dims, e.g. K=64,V=64')
    .option('--repeats <n>', 'timed calls (the median is reported)', '10')
    .option('--warmup <n>', 'untimed calls first', '2')
    .option('--dtype <type>', `storage type of inputs and outputs: ${orList(WEBGPU_DTYPES)}`, 'f32')
    .option('--form <form>', FORMS.join(', '))
    .option('--chunk <n>', 'chunk size (state-recurrent) or query tile (softmax)')
    .option('--tiles <list>', TILES_HELP)
    .option('--profile <name>', `the WebGPU profile whose defaults the device limits refine: ${WEBGPU_PROFILES.join(', ')}`, 'webgpu-large')
    .option('--spec <name>', 'the spec to time when the file has several')
    .option('--json', 'print the timings as JSON (with every sample)')
    .addHelpText('after', '\nExamples:\n  attnc bench stdlib/gated_deltanet.attn --shape B=1,T=1024,H=4\n  attnc bench stdlib/softmax.attn --dims D=64 --shape B=2,T=512,H=4 --repeats 20 --json')
    .action(async (file: string, o) => {
      process.exitCode = await benchCommand(file, o);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? EXIT.ok);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
      // `attnc help` shows the help (exit code 0); `attnc` with no command shows it as a usage error.
      if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return EXIT.usage;
    }
    process.stderr.write(`attnc: internal error: ${(e as Error).stack ?? e}\n`);
    return 70;
  }
}

/** `attnc compile` over several files or folders: one compile per spec file, with a progress bar. */
async function compileMany(paths: string[], o: CompileCmdOptions): Promise<number> {
  const { files, diagnostics } = expandPaths(paths);
  if (paths.length === 1 && files.length === 1 && files[0] === paths[0] && !diagnostics.length) return compileCommand(files[0]!, o);
  if (diagnostics.length) {
    if (o.json) printJson({ ok: false, diagnostics: diagnosticsJson(diagnostics) });
    else printDiagnostics(diagnostics);
    return EXIT.diagnostics;
  }
  if (!files.length) {
    process.stderr.write(`attnc: no spec files (.attn, .attn.json) in ${paths.join(', ')}\n`);
    return EXIT.usage;
  }
  const bar = progress(files.length, 'compile', o.json ? { json: true } : {});
  let code: number = EXIT.ok;
  const results: unknown[] = [];
  for (const f of files) {
    bar.tick(f);
    if (o.json) {
      const r = await captureStdout(() => compileCommand(f, o));
      results.push({ file: f, ...(JSON.parse(r.stdout || '{}') as object) });
      code = Math.max(code, r.value);
    } else {
      bar.clear();
      code = Math.max(code, await compileCommand(f, o));
      bar.redraw();
    }
    if (code === EXIT.usage) break;
  }
  bar.done();
  if (o.json) printJson({ ok: code === EXIT.ok, results });
  return code;
}

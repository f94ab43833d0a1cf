/**
 * Option values shared by several commands: the allowed values of --target, --form, --dtype and
 * --profile (one list each, used by the checks and the --help texts), and their parsers. A bad
 * value is a usage error (exit code 2) whose message lists the allowed values.
 */
import type { TileRequest } from '../compiler/passes/plan.ts';
import { PROFILE_NAMES, PROFILES } from '../compiler/targets/profiles.ts';

/** `compile --target`. */
export const TARGETS = ['wgsl', 'ts', 'cuda'] as const;
/** Kernel forms: `--form` of explain, compile, pack, bench and run. */
export const FORMS = ['chunk', 'recurrent', 'parallel'] as const;
/** Storage types of inputs and outputs (`--dtype`). */
export const DTYPES = ['f32', 'f16', 'bf16'] as const;
/** The storage types WebGPU kernels have (WGSL has no bf16): run, bench, pack. */
export const WEBGPU_DTYPES = ['f32', 'f16'] as const;
/** Profile names by backend (compiler/targets/profiles.ts). */
export const WEBGPU_PROFILES: readonly string[] = Object.values(PROFILES).filter((p) => p.backend === 'wgsl').map((p) => p.name);
export const CUDA_PROFILES: readonly string[] = Object.values(PROFILES).filter((p) => p.backend === 'cuda').map((p) => p.name);
export const DEFAULT_WEBGPU_PROFILE = 'webgpu-large';
export const DEFAULT_CUDA_PROFILE = 'cuda-sm90';

/** ['a', 'b', 'c'] → 'a, b or c'. */
export function orList(xs: readonly string[]): string {
  return xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;
}

/**
 * A value that must be one of `allowed`: undefined when it is (or when the option is absent),
 * else the usage message, e.g. "--form is chunk, recurrent or parallel, found 'sideways'".
 * `where` qualifies the list (" on WebGPU").
 */
export function badChoice(flag: string, value: string | undefined, allowed: readonly string[], where = ''): string | undefined {
  if (value === undefined || allowed.includes(value)) return undefined;
  return `${flag} is ${orList(allowed)}${where}, found '${value}'`;
}

/** `K=16,V=32` → { K: 16, V: 32 }; a string is an error message. */
export function parseDims(text: string | undefined): Record<string, number> | string | undefined {
  if (!text) return undefined;
  return parseAssignments(text, '--dims');
}

const ASSIGNMENT_EXAMPLES: Record<string, string> = { '--dims': 'K=16,V=16', '--tiles': 'BV=32,BK=64' };

export function parseAssignments(text: string, flag: string): Record<string, number> | string {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\d+)$/.exec(part);
    if (!m) return `${flag} expects NAME=INTEGER pairs separated by commas (e.g. ${ASSIGNMENT_EXAMPLES[flag] ?? 'B=2,T=128,H=4'}), found '${part}'`;
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** `--chunk N` → N; undefined when absent; a string is the usage message (not a positive integer). */
export function parseChunk(text: string | undefined): number | string | undefined {
  if (!text) return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : '--chunk takes a positive integer';
}

/** The tiles `--tiles` may name (compiler/passes/plan.ts TileRequest). */
export const TILE_KEYS = ['BV', 'BK'] as const;

/** Help text of `--tiles` (compile, explain, bench, run --backend webgpu). */
export const TILES_HELP = "tiles instead of the planner's choice, e.g. BV=32,BK=64: BV the value tile and BK the key slice (state-recurrent), BK the key tile (softmax; its query tile is --chunk); powers of two from 8";

/**
 * `--tiles BV=32,BK=64` → { BV: 32, BK: 64 }; undefined when absent; a string is the usage message
 * (bad syntax, an unknown or repeated name, a size that is not a positive integer). Whether a size
 * suits the spec and the profile is the planner's check (ATTN4006, ATTN4001).
 */
export function parseTiles(text: string | undefined): TileRequest | string | undefined {
  if (text === undefined) return undefined;
  const a = parseAssignments(text, '--tiles');
  if (typeof a === 'string') return a;
  const names = text.split(',').map((s) => s.split('=')[0]!.trim()).filter(Boolean);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) return `--tiles names ${repeated} twice`;
  const out: TileRequest = {};
  for (const [k, v] of Object.entries(a)) {
    if (!(TILE_KEYS as readonly string[]).includes(k)) return `--tiles takes ${orList(TILE_KEYS)}, found '${k}'${k === 'BQ' || k === 'C' ? ' (the chunk or query tile is --chunk)' : ''}`;
    if (!(v > 0)) return `--tiles: ${k} takes a positive integer, found ${v}`;
    out[k as 'BV' | 'BK'] = v;
  }
  if (!Object.keys(out).length) return `--tiles names no tile (e.g. ${ASSIGNMENT_EXAMPLES['--tiles']})`;
  return out;
}

/** Commander's collector for options that may be repeated: every value, in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The profiles named by --profile (and the --cuda-profile alias), sorted by backend. */
export interface ProfileChoice {
  /** The WebGPU profile (for the wgsl and ts targets), when one was named. */
  wgsl?: string;
  /** The CUDA profile, when one was named. */
  cuda?: string;
  /** The flag that named each, for messages. */
  flags: { wgsl?: string; cuda?: string };
}

/**
 * `--profile` values — repeated and/or comma-separated, each a WebGPU or a CUDA profile, at most
 * one of each kind — plus `--cuda-profile` (an alias for a CUDA profile in --profile). A string
 * is the usage message.
 */
export function parseProfiles(profile: string | readonly string[] | undefined, cudaProfile?: string): ProfileChoice | string {
  const names = (typeof profile === 'string' ? [profile] : (profile ?? [])).flatMap((p) => p.split(',')).map((s) => s.trim()).filter(Boolean);
  const choice: ProfileChoice = { flags: {} };
  const add = (name: string, flag: string): string | undefined => {
    const p = PROFILE_NAMES.includes(name) ? PROFILES[name] : undefined;
    if (!p) return `${flag} '${name}' is not a profile: WebGPU ${orList(WEBGPU_PROFILES)}; CUDA ${orList(CUDA_PROFILES)}`;
    const kind = p.backend === 'cuda' ? 'cuda' : 'wgsl';
    const had = choice[kind];
    if (had !== undefined && had !== name) {
      const what = kind === 'cuda' ? 'CUDA' : 'WebGPU';
      const who = choice.flags[kind] === flag ? `${flag} names` : `${choice.flags[kind]} and ${flag} name`;
      return `${who} two ${what} profiles, '${had}' and '${name}'; give at most one WebGPU profile and one CUDA profile`;
    }
    choice[kind] = name;
    choice.flags[kind] = flag;
    return undefined;
  };
  for (const n of names) {
    const bad = add(n, '--profile');
    if (bad) return bad;
  }
  if (cudaProfile !== undefined) {
    if (!CUDA_PROFILES.includes(cudaProfile)) return `--cuda-profile takes a CUDA profile (${orList(CUDA_PROFILES)}), found '${cudaProfile}'`;
    const bad = add(cudaProfile, '--cuda-profile');
    if (bad) return bad;
  }
  return choice;
}

/**
 * The profile of each backend (the defaults where none was named), or the usage message when a
 * named profile is for a backend nothing requested: `why` says why it is not (e.g. "--target
 * wgsl,ts has no cuda").
 */
export function resolveProfiles(choice: ProfileChoice, wants: { wgsl: boolean; cuda: boolean }, why: { wgsl?: string; cuda?: string }): { wgsl: string; cuda: string } | string {
  if (choice.cuda && !wants.cuda) return `${choice.flags.cuda} ${choice.cuda} is a CUDA profile, but ${why.cuda ?? 'nothing here uses CUDA'}`;
  if (choice.wgsl && !wants.wgsl) return `${choice.flags.wgsl} ${choice.wgsl} is a WebGPU profile, but ${why.wgsl ?? 'nothing here uses WebGPU'}`;
  return { wgsl: choice.wgsl ?? DEFAULT_WEBGPU_PROFILE, cuda: choice.cuda ?? DEFAULT_CUDA_PROFILE };
}

/** Help text of a --profile option that takes both kinds. */
export const PROFILE_HELP = `target profiles, one of each kind (repeat the option or separate with commas): WebGPU ${WEBGPU_PROFILES.join(', ')} (default ${DEFAULT_WEBGPU_PROFILE}); CUDA ${CUDA_PROFILES.join(', ')} (default ${DEFAULT_CUDA_PROFILE})`;

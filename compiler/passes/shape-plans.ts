/**
 * Plans by run shape: the profile's `shapePlans` (compiler/targets/profiles.ts) that stand beside a
 * spec's default plan, each planned with its own options. A backend compiles them into the same
 * program and takes one per run by the run's chains (N·H); the default serves every other shape.
 */
import { isVectorGate, type AttentionIR } from '../ir/attention-ir.ts';
import type { ShapePlan, TargetProfile } from '../targets/profiles.ts';
import { plan, type PlanResult } from './pipeline.ts';
import type { PlanOptions } from './plan.ts';

export interface ShapeVariant {
  shape: ShapePlan;
  result: PlanResult;
}

/** Options that pin the plan: a caller who set one asked for that plan at every shape. */
const PINNING: (keyof PlanOptions)[] = ['chunk', 'tiles', 'split', 'outputKernel', 'stateKeyTile', 'segmentChunks', 'segmentWorkgroups', 'stateRegisters', 'stateThreads', 'prefetchDepth', 'threads', 'halfOperands'];

/** Whether a shape plan stands beside this default plan (its `replaces` class). */
function replaces(shape: ShapePlan, base: PlanResult): boolean {
  const t = base.tiling;
  if (!base.program || base.form !== 'chunk' || !t) return false;
  switch (shape.replaces) {
    case 'additive-state-outputs':
      return !!t.split && !t.outputKernel && base.ir.update?.cls === 'additive';
    case 'delta-register-state':
      return !!t.stateRegisters && !isVectorGate(base.ir.gate.cls);
  }
}

/**
 * The shape plans of `target` that apply to the default plan `base` (planned with `options`), each
 * planned; none where the caller pinned the plan, and none whose own plan failed.
 */
export function shapeVariants(ir: AttentionIR, target: TargetProfile, options: PlanOptions, base: PlanResult): ShapeVariant[] {
  if (PINNING.some((o) => options[o] !== undefined)) return [];
  const out: ShapeVariant[] = [];
  for (const shape of target.shapePlans ?? []) {
    if (!replaces(shape, base)) continue;
    const result = plan(ir, target, { ...options, ...shape.options });
    if (result.program) out.push({ shape, result });
  }
  return out;
}

/** The run condition of a shape plan as the launchers state it. */
export function shapeCondition(shape: ShapePlan): string {
  return `N·H ≤ ${shape.maxChains}`;
}

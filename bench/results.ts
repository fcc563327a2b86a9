// Where each benchmark keeps its figures: bench/results/<name>.json, with the machine they ran on,
// so that a later run prints its change against the last one instead of leaving the comparison to memory.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

const DIR = new URL('./results/', import.meta.url);

export interface Machine {
  node: string;
  cpus: number;
  cpu_model: string;
  memory_gib: number;
}

export function machine(): Machine {
  const list = cpus();
  return { node: process.version, cpus: list.length, cpu_model: list[0]?.model.trim() ?? 'unknown', memory_gib: Math.round(totalmem() / 2 ** 30) };
}

export function describeMachine(m: Machine = machine()): string {
  return `Node ${m.node}, ${m.cpus} x ${m.cpu_model}, ${m.memory_gib} GiB`;
}

/** The previous run's results of `name`, if any. */
export function previousResults<T>(name: string): (T & { machine: Machine; date: string }) | undefined {
  const file = new URL(`${name}.json`, DIR);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T & { machine: Machine; date: string };
  } catch {
    return undefined;
  }
}

/** Writes this run's results of `name` (replacing the previous ones). */
export function saveResults(name: string, results: object): void {
  mkdirSync(DIR, { recursive: true });
  const file = new URL(`${name}.json`, DIR);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine: machine(), ...results }, null, 2) + '\n');
  console.log(`results written to bench/results/${name}.json`);
}

/** "+3%" style change against a previous figure, or '' when there is none. */
export function change(now: number, before: number | undefined): string {
  if (before === undefined || !Number.isFinite(before) || !Number.isFinite(now) || before === 0) return '';
  const pct = ((now - before) / before) * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(0)}%`;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
};

export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

// Where a benchmark target's CPU time goes: the heaviest functions by self time in a V8 CPU
// profile, as a share of the time the thread was not idle.
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export function topFrames(profile: CpuProfile, count: number): Array<{ frame: string; ms: number; share: number }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)!;
    const where = f.url.includes('node_modules/') ? f.url.slice(f.url.lastIndexOf('node_modules/') + 13) : f.url.slice(f.url.lastIndexOf('/') + 1);
    const key = `${f.functionName || '(anonymous)'} ${where}${f.lineNumber >= 0 ? `:${f.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const busy = [...self].filter(([k]) => !k.startsWith('(idle)')).reduce((sum, [, v]) => sum + v, 0);
  return [...self]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([frame, us]) => ({ frame, ms: us / 1000, share: us / busy }));
}

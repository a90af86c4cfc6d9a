import { describe, expect, it } from 'vitest';
import { BuildTally } from './tally.js';

describe('BuildTally', () => {
  it('counts steps, hits, containers and layers; a snapshot does not change later', () => {
    const t = new BuildTally();
    expect(t.containersStarted).toBe(false);
    t.step(true);
    t.step(false);
    t.container();
    t.layerWritten();
    t.argUsed('A');
    const s = t.snapshot();
    t.step(true);
    expect(s).toEqual({ steps: 2, cached: 1, containers: 1, layersWritten: 1 });
    expect(t.containersStarted).toBe(true);
    expect([...t.usedArgs]).toEqual(['A']);
  });
});

import { describe, expect, it } from 'vitest';
import { UsageError } from '../oci/index.js';
import { planOutputs } from './output-plan.js';

describe('planOutputs', () => {
  it('pushes nothing and tags -t names when nothing asks for a push', () => {
    const p = planOutputs({ tags: ['app:1'], outputs: [{ type: 'local', dest: 'd' }] });
    expect(p).toEqual({
      storeNames: ['docker.io/library/app:1'],
      pushNames: [],
      files: [{ type: 'local', dest: 'd' }],
    });
  });

  it('--push pushes every -t name', () => {
    expect(planOutputs({ tags: ['r:5000/a:1', 'r:5000/a:2'], push: true }).pushNames).toEqual([
      'r:5000/a:1',
      'r:5000/a:2',
    ]);
  });

  it('type=registry and type=image,push=true push their names and the -t names, through the same list', () => {
    const reg = planOutputs({ outputs: [{ type: 'image', names: ['r:5000/x:1'], push: true }] });
    expect(reg.pushNames).toEqual(['r:5000/x:1']);
    expect(reg.storeNames).toEqual(['r:5000/x:1']);
    const both = planOutputs({ tags: ['r:5000/t:1'], outputs: [{ type: 'image', names: ['r:5000/x:1'], push: true }] });
    expect(both.pushNames).toEqual(['r:5000/x:1', 'r:5000/t:1']);
  });

  it('refuses compression keys on an image output when nothing is pushed', () => {
    const layers = { compression: { type: 'zstd' as const } };
    expect(() => planOutputs({ tags: ['a:1'], outputs: [{ type: 'image', layers }] })).toThrow(UsageError);
    expect(() => planOutputs({ tags: ['a:1'], outputs: [{ type: 'image', layers }] })).toThrow(/pushes nothing/);
    expect(planOutputs({ tags: ['r:5000/a:1'], push: true, outputs: [{ type: 'image', layers }] }).pushNames).toEqual([
      'r:5000/a:1',
    ]);
  });

  it('type=image without push tags its names in the store only; --push makes it a push', () => {
    const local = planOutputs({ outputs: [{ type: 'image', names: ['r:5000/x:1'] }] });
    expect(local).toEqual({ storeNames: ['r:5000/x:1'], pushNames: [], files: [] });
    expect(planOutputs({ push: true, outputs: [{ type: 'image', names: ['r:5000/x:1'] }] }).pushNames).toEqual([
      'r:5000/x:1',
    ]);
  });

  it('refuses --push with type=image,push=false, and a push with no name', () => {
    expect(() => planOutputs({ push: true, tags: ['a:1'], outputs: [{ type: 'image', push: false }] })).toThrow(
      /--push contradicts -o type=image,push=false/,
    );
    expect(() => planOutputs({ push: true })).toThrow(UsageError);
    expect(() => planOutputs({ push: true })).toThrow(/--push has no name to push to/);
    expect(() => planOutputs({ outputs: [{ type: 'image', push: true }] })).toThrow(/type=registry.*no name/);
  });

  it('names oci and docker archives with name= and the -t names', () => {
    const p = planOutputs({ tags: ['t:1'], outputs: [{ type: 'oci', dest: 'o.tar', names: ['n:1'] }] });
    expect(p.files).toEqual([
      { type: 'oci', dest: 'o.tar', names: ['docker.io/library/n:1', 'docker.io/library/t:1'] },
    ]);
  });

  it('refuses two outputs to stdout, and a local directory named -', () => {
    expect(() =>
      planOutputs({
        outputs: [
          { type: 'tar', dest: '-' },
          { type: 'oci', dest: '-' },
        ],
      }),
    ).toThrow(/-o type=tar,dest=- and -o type=oci,dest=- both write to stdout/);
    expect(() => planOutputs({ outputs: [{ type: 'local', dest: '-' }] })).toThrow(/directory named -/);
  });
});

// Instructions that change only the image config: ENV ARG USER LABEL EXPOSE VOLUME CMD ENTRYPOINT SHELL
// HEALTHCHECK STOPSIGNAL ONBUILD MAINTAINER. Each records an empty_layer history entry, as BuildKit does.
import type { HealthConfig } from '../../oci/index.js';
import type { KeyValue } from '../../parser/index.js';
import { expand, expandList } from '../expand.js';
import { FlagError } from '../flags.js';
import { goHealthcheck, goList, goSlice, setEnvInPlace } from '../image-config.js';
import { PROXY_ARGS } from '../platform.js';
import { parsePortSpec } from '../ports.js';
import { cachedStep } from './common.js';
import { stageVars, type StepCtx } from './types.js';

const none = async () => ({ layer: null });

function shellOf(sc: StepCtx): string[] {
  return sc.state.config.config.Shell ?? ['/bin/sh', '-c'];
}

/** CMD/ENTRYPOINT/HEALTHCHECK command: exec form as written, shell form prefixed with SHELL. */
function commandOf(sc: StepCtx, args: string[], json: boolean): string[] {
  return json ? args : [...shellOf(sc), args.join(' ')];
}

function esc(sc: StepCtx): string {
  return sc.env.plan.escapeToken;
}

/** ENV/LABEL pairs, expanded against the variables as they were before the instruction. */
function pairs(sc: StepCtx, kvs: readonly KeyValue[]): [string, string][] {
  const vars = stageVars(sc.state);
  return kvs.map(({ key, value }) => [expand(key, vars, esc(sc)), expand(value, vars, esc(sc))]);
}

/** Go duration (`30s`, `1m30s`, `500ms`) → nanoseconds. */
function parseDuration(s: string, line: number): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  // µ escaped: esbuild escapes strings for the ASCII bundle, not regular expressions
  const re = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== s.length || s === '') throw new FlagError(`invalid duration "${s}"`, line);
  return Math.round(total);
}

export async function metadataStep(sc: StepCtx): Promise<boolean> {
  const { ins, state } = sc;
  const cfg = state.config.config;
  const line = ins.range.line;
  switch (ins.kind) {
    case 'env': {
      const ps = pairs(sc, ins.pairs);
      const list = (cfg.Env ??= []);
      for (const [k, v] of ps) setEnvInPlace(list, k, v);
      const text = ps.map(([k, v]) => `${k}=${v}`).join(' ');
      return cachedStep(sc, ['ENV', ps], `ENV ${text}`, none, { instruction: `ENV ${text}` });
    }
    case 'arg': {
      const vars = stageVars(state);
      const names: string[] = [];
      const shown: string[] = [];
      for (const { name, value } of ins.args) {
        const given = sc.env.plan.buildArgs.get(name);
        if (given !== undefined) sc.env.tally.argUsed(name);
        let v: string | undefined = given;
        const dflt = value !== undefined ? expand(value, vars, esc(sc)) : undefined;
        if (v === undefined) v = dflt;
        if (v === undefined && (sc.env.plan.metaDeclared.has(name) || sc.env.plan.metaArgs.has(name)))
          v = sc.env.plan.metaArgs.get(name);
        state.args.set(name, v);
        if (v !== undefined) vars.set(name, v);
        names.push(value === undefined ? name : `${name}=${value}`);
        // history shows the value in effect (--build-arg, else the expanded default, else the global ARG's), as
        // the current BuildKit's dispatchArg
        shown.push(v === undefined ? name : `${name}=${v}`);
      }
      // The value is not part of the key: the steps that use it carry it (RUN's env, substituted words).
      return cachedStep(sc, ['ARG', names], `ARG ${shown.join(' ')}`, none, { instruction: `ARG ${names.join(' ')}` });
    }
    case 'user': {
      const u = expand(ins.word, stageVars(state), esc(sc));
      cfg.User = u;
      return cachedStep(sc, ['USER', u], `USER ${u}`, none, { instruction: `USER ${u}` });
    }
    case 'label': {
      const ps = pairs(sc, ins.pairs);
      cfg.Labels = { ...(cfg.Labels ?? {}) };
      for (const [k, v] of ps) cfg.Labels[k] = v;
      return cachedStep(sc, ['LABEL', ps], `LABEL ${ps.map(([k, v]) => `${k}=${v}`).join(' ')}`, none, {
        instruction: `LABEL ${ps.map(([k, v]) => `${k}=${v}`).join(' ')}`,
      });
    }
    case 'maintainer': {
      const m = ins.word;
      // the author only: BuildKit adds no `maintainer` label
      state.config.author = m;
      return cachedStep(sc, ['MAINTAINER', m], `MAINTAINER ${m}`, none, { instruction: `MAINTAINER ${m}` });
    }
    case 'expose': {
      const ports = expandList(ins.words, stageVars(state), esc(sc)).flatMap((p) => {
        try {
          return parsePortSpec(p);
        } catch (e) {
          throw new FlagError((e as Error).message, line);
        }
      });
      cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
      for (const p of ports) cfg.ExposedPorts[p] = {};
      // Go prints a map with its keys sorted
      const text = `EXPOSE map[${[...new Set(ports)]
        .sort()
        .map((p) => `${p}:{}`)
        .join(' ')}]`;
      return cachedStep(sc, ['EXPOSE', ports], text, none, { instruction: text });
    }
    case 'volume': {
      const vars = stageVars(state);
      const vols = ins.json ? ins.words.map((a) => expand(a, vars, esc(sc))) : expandList(ins.words, vars, esc(sc));
      if (vols.some((v) => v.trim() === '')) throw new FlagError('VOLUME specified can not be an empty string', line);
      cfg.Volumes = { ...(cfg.Volumes ?? {}) };
      for (const v of vols) cfg.Volumes[v] = {};
      return cachedStep(sc, ['VOLUME', vols], `VOLUME ${goList(vols)}`, none, {
        instruction: `VOLUME ${goList(vols)}`,
      });
    }
    case 'cmd': {
      const cmd = commandOf(sc, ins.args, ins.json);
      cfg.Cmd = cmd;
      // BuildKit sets it on every CMD, either form (Docker's image spec field; an ENTRYPOINT leaves it alone)
      cfg.ArgsEscaped = true;
      state.cmdSet = true;
      return cachedStep(sc, ['CMD', cmd], `CMD ${goSlice(cmd)}`, none, { instruction: `CMD ${goSlice(cmd)}` });
    }
    case 'entrypoint': {
      const ep = commandOf(sc, ins.args, ins.json);
      cfg.Entrypoint = ep;
      // The CMD reset rule: an ENTRYPOINT drops a CMD inherited from the base, keeps one set in this stage.
      if (!state.cmdSet) cfg.Cmd = null;
      return cachedStep(sc, ['ENTRYPOINT', ep], `ENTRYPOINT ${goSlice(ep)}`, none, {
        instruction: `ENTRYPOINT ${goSlice(ep)}`,
      });
    }
    case 'shell': {
      if (!ins.json) throw new FlagError('SHELL requires the arguments to be in JSON form', line);
      cfg.Shell = [...ins.shell];
      return cachedStep(sc, ['SHELL', ins.shell], `SHELL ${goList(ins.shell)}`, none, {
        instruction: `SHELL ${goList(ins.shell)}`,
      });
    }
    case 'stopsignal': {
      const s = expand(ins.word, stageVars(state), esc(sc));
      cfg.StopSignal = s;
      return cachedStep(sc, ['STOPSIGNAL', s], `STOPSIGNAL ${s}`, none, { instruction: `STOPSIGNAL ${s}` });
    }
    case 'healthcheck': {
      let hc: HealthConfig;
      if (ins.test === null) hc = { Test: ['NONE'] };
      else {
        const rest = ins.test.args;
        hc = { Test: ins.test.json ? ['CMD', ...rest] : ['CMD-SHELL', rest.join(' ')] };
        const d = (v: string | undefined): number | undefined => (v !== undefined ? parseDuration(v, line) : undefined);
        const iv = d(ins.interval),
          to = d(ins.timeout),
          sp = d(ins.startPeriod),
          si = d(ins.startInterval);
        if (iv !== undefined) hc.Interval = iv;
        if (to !== undefined) hc.Timeout = to;
        if (sp !== undefined) hc.StartPeriod = sp;
        if (si !== undefined) hc.StartInterval = si;
        const r = ins.retries;
        if (r !== undefined) {
          if (!/^\d+$/.test(r) || Number(r) < 1) throw new FlagError('--retries cannot be less than 1', line);
          hc.Retries = Number(r);
        }
      }
      cfg.Healthcheck = hc;
      return cachedStep(sc, ['HEALTHCHECK', hc], `HEALTHCHECK ${goHealthcheck(hc)}`, none, {
        instruction: `HEALTHCHECK ${goHealthcheck(hc)}`,
      });
    }
    case 'onbuild': {
      const trigger = ins.trigger;
      cfg.OnBuild = [...(cfg.OnBuild ?? []), trigger];
      // BuildKit's dispatchOnbuild records no history entry
      return cachedStep(
        sc,
        ['ONBUILD', trigger],
        `ONBUILD ${trigger}`,
        none,
        { instruction: `ONBUILD ${trigger}` },
        false,
      );
    }
    default:
      throw new FlagError(`unsupported instruction ${ins.keyword}`, line);
  }
}

/** Build args that reach RUN's environment: the stage's ARGs with values, then proxy args given on the CLI. */
export function runArgs(sc: StepCtx): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of sc.state.args) if (v !== undefined) out.push([k, v]);
  for (const [k, v] of sc.env.plan.buildArgs) {
    if (PROXY_ARGS.has(k) && !sc.state.args.has(k)) {
      out.push([k, v]);
      sc.env.tally.argUsed(k);
    }
  }
  return out;
}

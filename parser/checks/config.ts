// The `# check=` directive and the BUILDKIT_DOCKERFILE_CHECK build arg (BuildKit's linter.ParseLintOptions):
// `skip=Rule1,Rule2` or `skip=all`, `error=true`, `experimental=…`, separated by `;`.

export interface CheckConfig {
  skipAll: boolean;
  skip: Set<string>;
  /** `error=true`: a build that triggers any check fails (after printing them). */
  error: boolean;
  /** `experimental=…` as written: tsbuild has none of BuildKit's experimental rules, so the CLI says so. */
  experimental: string[];
}

/** A `check` option that cannot be read; `code` and `hint` as the other errors carry them. */
export class CheckOptionError extends Error {
  override name = 'CheckOptionError';
  readonly code = 'CHECK_OPTION_INVALID';
  readonly hint = 'write it as skip=Rule1,Rule2 (or skip=all), error=true|false, separated by ";"';
  constructor(message: string) {
    super(`failed to parse check options: ${message}`);
  }
}

export function emptyCheckConfig(): CheckConfig {
  return { skipAll: false, skip: new Set(), error: false, experimental: [] };
}

// strconv.ParseBool's spellings
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Parses the option string; throws CheckOptionError on a key BuildKit does not know or a bad boolean. */
export function parseCheckOptions(text: string | null | undefined): CheckConfig {
  const config = emptyCheckConfig();
  const s = (text ?? '').trim();
  if (s === '') return config;
  // BuildKit splits into at most three parts: a fourth `;` stays inside the third value
  const parts = splitN(s, ';', 3);
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq < 0) throw new CheckOptionError(`invalid check option ${JSON.stringify(p)}`);
    const key = p.slice(0, eq).trim();
    const value = p.slice(eq + 1).trim();
    switch (key) {
      case 'skip':
        if (value === 'all') config.skipAll = true;
        else for (const r of value.split(',')) config.skip.add(r.trim());
        break;
      case 'experimental':
        config.experimental = value === 'all' ? ['all'] : value.split(',').map((r) => r.trim());
        break;
      case 'error':
        if (TRUE.has(value)) config.error = true;
        else if (FALSE.has(value)) config.error = false;
        else throw new CheckOptionError(`failed to parse check option ${JSON.stringify(p)}: invalid syntax`);
        break;
      default:
        throw new CheckOptionError(`invalid check option ${JSON.stringify(key)}`);
    }
  }
  return config;
}

function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + 1);
  }
  out.push(rest);
  return out;
}

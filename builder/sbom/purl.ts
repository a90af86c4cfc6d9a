// Package URLs (purl-spec): `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`, each segment percent-encoded.
export function purl(
  type: string,
  namespace: string | undefined,
  name: string,
  version: string,
  qualifiers: Record<string, string | undefined> = {},
): string {
  const enc = (s: string): string => encodeURIComponent(s);
  const ns = namespace ? namespace.split('/').map(enc).join('/') + '/' : '';
  const q = Object.entries(qualifiers)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${enc(v)}`)
    .join('&');
  return `pkg:${type}/${ns}${enc(name)}@${enc(version)}${q ? `?${q}` : ''}`;
}

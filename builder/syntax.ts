// The `# syntax=` directive names the frontend BuildKit would run. tsbuild has one, its built-in parser, which
// implements docker/dockerfile:1; a Buildfile that asks for another frontend (or its -labs channel) may rely on
// extensions tsbuild lacks, so the build says so once instead of quietly using the built-in parser.

/** The official frontend of the 1.x line: `docker/dockerfile[:1[.x[.y]]|:latest][@sha256:…]`, docker.io or not. */
const OFFICIAL = /^(docker\.io\/)?docker\/dockerfile(:(1(\.\d+){0,2}|latest))?(@sha256:[a-f0-9]{64})?$/;

/** The warning for a `# syntax=` value, or undefined when it names the syntax tsbuild implements. */
export function syntaxWarning(syntax: string | null | undefined): string | undefined {
  if (syntax === null || syntax === undefined || OFFICIAL.test(syntax.trim())) return undefined;
  return (
    `# syntax=${syntax}: tsbuild does not run other frontends; it builds with its built-in parser ` +
    `(docker/dockerfile:1), without the extensions ${syntax} may have`
  );
}

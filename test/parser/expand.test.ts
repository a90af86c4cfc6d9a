// Variable substitution as Docker does it (BuildKit's shell lexer), and where it applies.
import { describe, expect, it } from 'vitest';
import { ExpandError, expandWord, expandWords, instructionExpands, processWord } from '../../parser/index.js';

const env = new Map([
  ['NAME', 'world'],
  ['EMPTY', ''],
  ['SPACED', 'a  b'],
  ['FILE', 'archive.tar.gz'],
]);
const x = (w: string) => expandWord(w, env);

describe('expandWord', () => {
  it('substitutes $VAR and ${VAR}; unset variables become empty', () => {
    expect(x('hello $NAME')).toBe('hello world');
    expect(x('${NAME}s')).toBe('worlds');
    expect(x('[$UNSET]')).toBe('[]');
    expect(x('$NAME_x')).toBe(''); // the name runs on through letters, digits and _
  });

  it('defaults and alternatives, with and without the colon', () => {
    expect(x('${UNSET:-dflt}')).toBe('dflt');
    expect(x('${EMPTY:-dflt}')).toBe('dflt');
    expect(x('${EMPTY-dflt}')).toBe('');
    expect(x('${UNSET-dflt}')).toBe('dflt');
    expect(x('${NAME:+alt}')).toBe('alt');
    expect(x('${EMPTY:+alt}')).toBe('');
    expect(x('${EMPTY+alt}')).toBe('alt');
    expect(x('${UNSET+alt}')).toBe('');
    expect(x('${UNSET:-${NAME}}')).toBe('world');
  });

  it('required variables: ${VAR:?err} and ${VAR?err}', () => {
    expect(x('${NAME:?must be set}')).toBe('world');
    expect(x('${EMPTY?must be set}')).toBe('');
    expect(() => x('${EMPTY:?must not be empty}')).toThrow(/EMPTY: must not be empty/);
    expect(() => x('${UNSET?}')).toThrow(/UNSET: is not allowed to be unset/);
    expect(() => x('${UNSET:?}')).toThrow(ExpandError);
  });

  it('prefix and suffix removal, and replacement', () => {
    expect(x('${FILE%.*}')).toBe('archive.tar');
    expect(x('${FILE%%.*}')).toBe('archive');
    expect(x('${FILE#*.}')).toBe('tar.gz');
    expect(x('${FILE##*.}')).toBe('gz');
    expect(x('${FILE/a/A}')).toBe('Archive.tar.gz');
    expect(x('${FILE//a/A}')).toBe('Archive.tAr.gz');
  });

  it('escaped dollars stay literal', () => {
    expect(x('\\$NAME')).toBe('$NAME');
    expect(x('"\\$NAME"')).toBe('$NAME');
    expect(x('\\\\$NAME')).toBe('\\world');
  });

  it('single quotes are literal; double quotes expand; quotes are removed', () => {
    expect(x("'$NAME'")).toBe('$NAME');
    expect(x('"$NAME"')).toBe('world');
    expect(x(`"it's $NAME"`)).toBe("it's world");
    expect(x(`'say "$NAME"'`)).toBe('say "$NAME"');
    expect(() => x("'open")).toThrow(/single-quote/);
    expect(() => x('"open')).toThrow(/double-quote/);
  });

  it('uses the backtick as escape character when the Buildfile says so', () => {
    expect(expandWord('`$NAME', env, { escapeToken: '`' })).toBe('$NAME');
    expect(expandWord('C:\\$NAME', env, { escapeToken: '`' })).toBe('C:\\world');
  });

  it('rejects bad substitutions', () => {
    expect(() => x('${}')).toThrow(/bad substitution/);
    expect(() => x('${NAME')).toThrow(ExpandError);
    expect(() => x('${NAME:=x}')).toThrow(/unsupported modifier/);
  });

  it('accepts a plain record as the environment', () => {
    expect(expandWord('$A-$B', { A: '1', B: '2' })).toBe('1-2');
  });
});

describe('expandWords', () => {
  it('splits on unquoted whitespace after expansion', () => {
    expect(expandWords('80 $SPACED', env)).toEqual(['80', 'a', 'b']);
    expect(expandWords('"$SPACED" c\\ d', env)).toEqual(['a  b', 'c d']);
  });

  it('takes a list of words, processing each on its own', () => {
    expect(expandWords(['$SPACED', '"$NAME x"', '$UNSET'], env)).toEqual(['a', 'b', 'world x']);
  });
});

describe('processWord', () => {
  it('can leave unset variables and quotes as written (used to read heredoc markers)', () => {
    expect(processWord(`'$X' $UNSET`, env, { rawQuotes: true, skipUnsetEnv: true }).word).toBe(`'$X' $UNSET`);
  });
});

describe('instructionExpands', () => {
  it('lists the instructions Docker substitutes variables in', () => {
    for (const k of [
      'ADD',
      'COPY',
      'ENV',
      'EXPOSE',
      'FROM',
      'LABEL',
      'STOPSIGNAL',
      'USER',
      'VOLUME',
      'WORKDIR',
      'ARG',
    ]) {
      expect(instructionExpands(k)).toBe(true);
    }
    for (const k of ['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'HEALTHCHECK', 'MAINTAINER', 'ONBUILD']) {
      expect(instructionExpands(k)).toBe(false);
    }
    expect(instructionExpands('workdir')).toBe(true);
  });
});

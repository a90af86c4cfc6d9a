// ESLint: type-aware typescript-eslint rules that catch real bugs (unhandled promises, misused async), plus
// tsbuild/architecture (scripts/lint/architecture.mjs), which keeps the six parts importing one way only.
import tseslint from 'typescript-eslint';
import architecture from './scripts/lint/architecture.mjs';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '**/*.mjs',
      '**/*.cjs',
      'bin/**',
      'eslint.config.js',
      'scripts/lint/fixtures/**',
    ],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: ['./tsconfig.check.json'], tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin, tsbuild: { rules: { architecture } } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'tsbuild/architecture': ['error', { root: import.meta.dirname }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-shadow-restricted-names': 'off',
      'no-shadow-restricted-names': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      'no-debugger': 'error',
      // Prettier wraps code at 120 columns but leaves comments and long strings alone: comments are held to the
      // same width here (strings, templates and URLs may run over, as splitting them hides what they say).
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
      eqeqeq: ['error', 'smart'],
    },
  },
);

import eslint from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'recordings/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration through ConfigService (src/config); process.env is read only in src/config.',
        },
      ],
    },
  },
  {
    // Config loading, entrypoints that pick the process role, CLI scripts, the simulator
    // (its own program) and tests may read the environment directly.
    files: ['src/config/**', 'src/database/data-source.ts', 'src/simulator/**', 'test/**', 'bench/**', 'scripts/**', '**/*.spec.ts', '**/*.spec-helper.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // The simulator is an independent implementation of Zoom's side of the protocol:
    // it must not borrow the hub's code, or the two could not check each other.
    files: ['src/simulator/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*', '!../simulator/**'], message: 'The simulator must not import hub code.' }] }],
    },
  },
  {
    // The session console's client: plain ES modules the browser loads as they are.
    files: ['src/modules/console/assets/**/*.js'],
    // The browser globals they use, listed (the `globals` package is not a dependency of ours).
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['document', 'location', 'fetch', 'URLSearchParams', 'WebSocket', 'EventSource', 'Node', 'setTimeout', 'clearTimeout', 'setInterval'].map((g) => [g, 'readonly']),
      ),
    },
  },
  {
    // One door per feature module: code outside src/modules/<name>/ imports only that
    // module's index.ts (or contract.ts, plain constants that cannot close a load
    // cycle). A module's internals (services it does not export, repositories, DTOs,
    // entities it keeps to itself) can then change without breaking another module.
    files: ['src/**/*.ts'],
    ignores: ['**/*.spec.ts', 'src/database/entities.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/include': ['src/**/*.ts'],
      // Modules first: an element is the first pattern that matches. The layers (common,
      // zoom, jobs, worker, config…) and the entry files are elements too, so their
      // imports of a module are checked the same way.
      'boundaries/elements': [
        { type: 'module', pattern: 'src/modules/*', mode: 'folder', capture: ['name'] },
        { type: 'layer', pattern: 'src/*', mode: 'folder', capture: ['name'] },
        { type: 'entry', pattern: 'src/*.ts', mode: 'file' },
      ],
      'import/resolver': { typescript: { project: './tsconfig.json' } },
    },
    rules: {
      'boundaries/entry-point': [
        'error',
        {
          default: 'disallow',
          message: "Import another module only through its door: '${dependency.source}' reaches into module '${dependency.name}'; import its index.ts (or contract.ts) instead.",
          rules: [
            { target: ['module'], allow: ['index.ts', 'contract.ts'] },
            // Layers are shared infrastructure: any of their files may be imported.
            { target: ['layer', 'entry'], allow: '**' },
          ],
        },
      ],
    },
  },
);
